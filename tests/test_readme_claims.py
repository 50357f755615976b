"""README's claims tables are the rendering of the committed claims files."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("readme_claims", REPO / "tools/readme_claims.py")
readme_claims = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_claims)


def test_readme_has_claims_blocks_and_they_match_the_files():
    text = (REPO / "README.md").read_text()
    blocks = list(readme_claims.BLOCK.finditer(text))
    assert blocks, "README.md has no claims block"
    assert readme_claims.main(["--check"]) == 0


def test_check_fails_when_a_claims_file_changes(tmp_path):
    text = (REPO / "README.md").read_text()
    for block in readme_claims.BLOCK.finditer(text):
        copy = tmp_path / block.group("path")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / block.group("path"), copy)
    target = tmp_path / next(readme_claims.BLOCK.finditer(text)).group("path")
    (tmp_path / "README.md").write_text(text)
    readme = str(tmp_path / "README.md")
    table = pd.read_csv(target)
    table.loc[0, "verdict"] = "holds" if table.loc[0, "verdict"] != "holds" else "fails"
    table.to_csv(target, index=False)
    assert readme_claims.main(["--check", "--readme", readme]) == 1
    readme_claims.main(["--readme", readme])  # rewriting brings it back in line
    assert readme_claims.main(["--check", "--readme", readme]) == 0


def test_every_reference_readme_block_matches_its_file():
    readmes = readme_claims.readmes()
    assert REPO / "results/reference/schedule-check/README.md" in readmes
    assert readme_claims.main(["--check", "--readme", *map(str, readmes)]) == 0


def test_table_block_renders_the_numbers_and_goes_stale_with_them(tmp_path):
    pd.DataFrame({"name": ["a", "b"], "value": [1.23456, 2.0], "n": [3, 4]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    readme = tmp_path / "README.md"
    readme.write_text("text\n<!-- table: t.csv -->\nold\n<!-- /table -->\nmore\n")
    assert readme_claims.main(["--check", "--readme", str(readme)]) == 1
    readme_claims.main(["--readme", str(readme)])
    body = readme.read_text()
    assert "| name | value | n |" in body and "| a | 1.23 | 3 |" in body
    assert body.startswith("text\n") and body.endswith("<!-- /table -->\nmore\n")
    pd.DataFrame({"name": ["a"], "value": [9.0], "n": [3]}).to_csv(tmp_path / "t.csv", index=False)
    assert readme_claims.main(["--check", "--readme", str(readme)]) == 1


def test_table_block_options_filter_pivot_and_order_columns(tmp_path):
    table = pd.DataFrame(
        {
            "model": ["cnn"] * 4 + ["mlp"],
            "optimizer": ["adam", "adam", "sgd", "sgd", "adam"],
            "quantity": ["cosine"] * 5,
            "epoch": [0, 5, 0, 5, 0],
            "mean": [0.85, 0.86, 0.3, 0.4, 0.5],
        }
    )
    picked = readme_claims.select(table, " model=cnn quantity=cosine pivot=optimizer:epoch:mean")
    assert list(picked.columns) == ["optimizer", "epoch 0", "epoch 5"]
    assert picked.set_index("optimizer").loc["adam"].tolist() == [0.85, 0.86]
    assert picked.set_index("optimizer").loc["sgd"].tolist() == [0.3, 0.4]
    kept = readme_claims.select(table, " optimizer=sgd columns=epoch,model")
    assert kept.values.tolist() == [[0, "cnn"], [5, "cnn"]]
    with pytest.raises(ValueError, match="no column 'seed'"):
        readme_claims.select(table, " seed=0")
    readme = tmp_path / "README.md"
    table.to_csv(tmp_path / "t.csv", index=False)
    readme.write_text("<!-- table: t.csv model=mlp columns=optimizer,mean -->\n<!-- /table -->\n")
    readme_claims.main(["--readme", str(readme)])
    assert "| optimizer | mean |\n|---|---|\n| adam | 0.5 |\n" in readme.read_text()


def test_claims_render_shows_seeds_minimum_probe_options_and_notes():
    row = {
        "claim": "a", "model": "cnn", "statement": "S", "statistic": "T", "direction": "above",
        "threshold": "1", "value": 1.2345, "lo": float("nan"), "hi": float("nan"), "level": 0.9,
        "n_seeds": 1, "min_seeds": 3, "per_seed": "0:1.234", "excluded": "2",
        "grid_edge": "sgd lr 0.01 (grid 0.01-1)", "verdict": "inconclusive",
        "note": "seed 2 excluded: sgd diverged; 1 seed (min 3): no verdict",
        "verdict_heavy_ball": "no data", "value_heavy_ball": float("nan"),
        "verdict_radius": "fails", "value_radius": 0.5,
    }  # fmt: skip
    two = {**row, "lo": 1.1, "hi": 1.4, "n_seeds": 3, "verdict": "holds", "note": "",
           "grid_edge": float("nan")}  # fmt: skip
    text = readme_claims.render(pd.DataFrame([row, two]))
    lines = text.splitlines()
    assert lines[0].endswith("| verdict | heavy_ball / radius | notes |")
    assert lines[2] == (
        "| S | T (1) | 1.23 (no interval) | 1 (min 3) | **inconclusive** | no data / fails | "
        "seed 2 excluded: sgd diverged; 1 seed (min 3): no verdict; at grid edge: sgd lr 0.01 "
        "(grid 0.01-1) |"
    )
    assert lines[3] == (
        "| S | T (1) | 1.23 [1.1, 1.4] (90%) | 3 (min 3) | **holds** | no data / fails |  |"
    )
