"""Every generated block of README.md and docs/ is the rendering of its committed source
(tools/docs_gen.py), and a changed source makes the check fail."""

from __future__ import annotations

import importlib.util
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("docs_gen", REPO / "tools/docs_gen.py")
docs_gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs_gen)


def test_every_document_matches_its_sources():
    docs = docs_gen.documents()
    assert REPO / "README.md" in docs and REPO / "docs/config.md" in docs
    assert REPO / "results/reference/schedule-check/README.md" in docs
    assert docs_gen.main(["--check"]) == 0


def test_readme_is_short_and_opens_with_title_paragraph_and_the_two_commands():
    text = (REPO / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 150
    assert lines[0].startswith("# ") and lines[1] == "" and lines[2][:1] not in ("", "#", "`", "<")
    first = re.search(r"```\w*\n(.*?)```", text, re.S).group(1).splitlines()
    assert first == [
        'pip install -c requirements/lock.txt -e ".[test]" && '
        "snakemake --cores 2 --configfile presets/quick.yaml",
        "python -m pytest",
    ]
    head = "\n".join(lines[:40])
    assert "<!-- claims:" in head and "<!-- /claims -->" in head
    assert any(f"**{v}**" in head for v in ("holds", "fails", "inconclusive"))


def test_a_changed_committed_table_makes_the_check_fail(tmp_path):
    """Copy README.md and its sources; change one verdict in a claims file: --check fails until
    the generator rewrites the README."""
    text = (REPO / "README.md").read_text()
    blocks = list(docs_gen.BLOCK.finditer(text))
    for m in blocks:
        source = REPO / m.group("path")
        copy = tmp_path / m.group("path")
        copy.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, copy)
    readme = tmp_path / "README.md"
    readme.write_text(text)
    assert docs_gen.main(["--check", str(readme)]) == 0
    claims = tmp_path / next(m for m in blocks if m.group("kind") == "claims").group("path")
    table = pd.read_csv(claims)
    table.loc[0, "verdict"] = "fails" if table.loc[0, "verdict"] != "fails" else "holds"
    table.to_csv(claims, index=False)
    assert docs_gen.main(["--check", str(readme)]) == 1
    assert docs_gen.main([str(readme)]) == 0
    assert docs_gen.main(["--check", str(readme)]) == 0


def test_a_changed_bench_output_makes_the_check_fail(tmp_path):
    (tmp_path / "bench.txt").write_text("$ bench\n== rates ==\ncnn 100 img/s\n\nrest\n")
    doc = tmp_path / "page.md"
    doc.write_text('a\n<!-- excerpt: bench.txt start="== rates" -->\n<!-- /excerpt -->\nb\n')
    docs_gen.main([str(doc)])
    assert doc.read_text() == (
        'a\n<!-- excerpt: bench.txt start="== rates" -->\n'
        "```text\n== rates ==\ncnn 100 img/s\n```\n<!-- /excerpt -->\nb\n"
    )
    (tmp_path / "bench.txt").write_text("$ bench\n== rates ==\ncnn 120 img/s\n\nrest\n")
    assert docs_gen.main(["--check", str(doc)]) == 1


def test_excerpt_bounds_and_line_filter():
    text = "x\n== a ==\n1\n2 total\n--\n3 total\n\nafter\n"
    assert docs_gen.excerpt(text, {"start": "== a"}) == (
        "```text\n== a ==\n1\n2 total\n--\n3 total\n```\n"
    )
    assert docs_gen.excerpt(text, {"start": "== a", "end": "--"}).count("\n") == 5
    assert docs_gen.excerpt(text, {"end": "EOF", "only": "total|after"}) == (
        "```text\n2 total\n3 total\nafter\n```\n"
    )
    with pytest.raises(ValueError, match="no such line"):
        docs_gen.excerpt(text, {"start": "== b"})


def test_claims_columns_come_from_the_marker_and_survive_new_columns():
    claims = pd.DataFrame(
        {
            "statement": ["A holds", "B"], "statistic": ["r", "s"], "threshold": [1, 1],
            "value": [2.0, 0.5], "lo": [1.5, float("nan")], "hi": [2.5, float("nan")],
            "level": [0.9, 0.9], "n_seeds": [3, 1], "verdict": ["holds", "inconclusive"],
            "min_seeds": [3, 3], "model": ["cnn", "mlp"], "verdict_radius": ["holds", "no data"],
            "value_radius": [1.25, float("nan")], "n_seeds_radius": [3, 0],
            "note": ["", "1 seed (min 3): no verdict"], "grid_edge": ["", "signsgd lr 0.1"],
        }
    )  # fmt: skip
    default = docs_gen.render_claims(claims, {})
    assert default.splitlines()[0] == (
        "| claim | statistic (threshold) | value [interval] | seeds | verdict | other probe steps"
        " | notes |"
    )
    row = "| A holds | r (1) | 2 [1.5, 2.5] (90%) | 3 (min 3) | **holds** | "
    assert row + "radius: holds (1.25, 3 seeds) |" in default
    assert (
        "0.5 (no interval) | 1 (min 3) | **inconclusive** | radius: no data "
        "| 1 seed (min 3): no verdict; at grid edge: signsgd lr 0.1 |"
    ) in default
    picked = docs_gen.render_claims(claims, {"model": "mlp", "columns": "claim,min_seeds,verdict"})
    assert picked.splitlines() == [
        "| claim | min_seeds | verdict |",
        "|---|---|---|",
        "| B | 3 | **inconclusive** |",
    ]
    with pytest.raises(ValueError, match="no columns"):
        docs_gen.render_claims(claims, {"columns": "claim,nonsense"})


def test_table_block_options_filter_pivot_and_order_columns():
    table = pd.DataFrame(
        {
            "model": ["cnn"] * 4 + ["mlp"],
            "optimizer": ["adam", "adam", "sgd", "sgd", "adam"],
            "epoch": [0, 5, 0, 5, 0],
            "mean": [0.85, 0.86, 0.3, 0.4, 0.5],
        }
    )
    picked = docs_gen.select(table, docs_gen.options("model=cnn pivot=optimizer:epoch:mean"))
    assert list(picked.columns) == ["optimizer", "epoch 0", "epoch 5"]
    assert picked.set_index("optimizer").loc["sgd"].tolist() == [0.3, 0.4]
    by_two = docs_gen.select(table, docs_gen.options("pivot=model,optimizer:epoch:mean"))
    assert list(by_two.columns) == ["model", "optimizer", "epoch 0", "epoch 5"]
    assert by_two.values.tolist()[1] == ["cnn", "sgd", 0.3, 0.4]
    assert math.isnan(by_two.values.tolist()[2][3])  # mlp has no epoch 5
    kept = docs_gen.select(table, docs_gen.options('optimizer=sgd columns="epoch,model"'))
    assert kept.values.tolist() == [[0, "cnn"], [5, "cnn"]]
    with pytest.raises(ValueError, match="no column 'seed'"):
        docs_gen.select(table, {"seed": "0"})


def test_presets_table_has_one_row_per_preset_from_its_front_comment(tmp_path):
    front = "#: runs: Figure 2\n#: on: config.yaml\n#: cost: 1 min\n"
    (tmp_path / "a.yaml").write_text(front + "x: 1\n")
    assert docs_gen.render_presets(tmp_path).splitlines()[2] == (
        "| `a` | Figure 2 | config.yaml | 1 min |"
    )
    (tmp_path / "b.yaml").write_text("# no front comment\nx: 1\n")
    with pytest.raises(ValueError, match=r"b.yaml: front comment lacks \['cost', 'on', 'runs'\]"):
        docs_gen.render_presets(tmp_path)
    rows = docs_gen.render_presets(REPO / "presets").splitlines()[2:]
    assert len(rows) == len(list((REPO / "presets").glob("*.yaml")))


def test_config_reference_has_every_key_with_schema_type_range_default_and_help():
    config = yaml.safe_load((REPO / "config.yaml").read_text())

    def keys(d, prefix=""):
        for k, v in d.items():
            yield prefix + k
            if isinstance(v, dict):
                yield from keys(v, prefix + k + ".")

    body = docs_gen.render_config(REPO / "config.yaml")
    rows = {line.split(" | ")[0].strip("| `"): line for line in body.splitlines()[2:]}
    assert set(rows) == set(keys(config))
    assert rows["quadratic.bootstrap.level"].split(" | ")[1:4] == ["number", "> 0; < 1", "`0.9`"]
    assert "`independent`, `shared`" in rows["quadratic.starts_per_rotation"]
    assert rows["quadratic.dim"].split(" | ")[4].strip(" |") == "d"


def test_config_comments_follow_keys_and_their_continuation_lines():
    text = (
        "a:             # section a\n"
        "  b: 1         # the b\n"
        "               # more on b\n"
        "  # a header at key depth\n"
        "  c: 'x # y'\n"
        "d: [1, 2]      # list\n"
    )
    assert docs_gen.config_comments(text) == {
        "a": "section a", "a.b": "the b more on b", "a.c": "", "d": "list",
    }  # fmt: skip


def test_outputs_table_lists_every_reported_file_with_its_caption():
    body = docs_gen.render_outputs(REPO / "Snakefile")
    captions = {p.name for p in (REPO / "workflow/report").glob("*.rst")} - {"workflow.rst"}
    for name in captions:
        assert f"workflow/report/{name}" in body, name
    assert "| `figures/figure3.{pdf,png}` | `figure3` | Figure 3 / Figure |" in body
    assert "`results/cifar/claims.csv`" in body


def test_a_block_whose_source_is_missing_is_an_error_naming_it(tmp_path, capsys):
    doc = tmp_path / "page.md"
    doc.write_text("<!-- table: gone.csv -->\n<!-- /table -->\n")
    assert docs_gen.main(["--check", str(doc)]) == 2
    assert "<!-- table: gone.csv -->" in capsys.readouterr().err
