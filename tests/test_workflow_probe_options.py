"""The robustness probe options in the workflow, by dry run (seconds): each option listed in
``cifar.smoothness.robustness_probe_steps`` adds one estimate job per headline shard, one path
level below it, whose settings are the headline job's with that ``probe_step``; the tables step
reads them all; the quick preset lists none, so its jobs are the headline's only."""

from __future__ import annotations

import json
import re

from signgeom.plan import Plan
from workflow_helpers import QUICK, quick_config, snakemake, write_config

TARGET = "results/cifar/smoothness.csv"


def _job_counts(output: str) -> dict[str, int]:
    stats = output[output.index("Job stats:") :]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


def _settings_of(output: str, shard: str) -> dict:
    """The ``--settings`` JSON of the estimate job writing ``shard``."""
    (line,) = [ln for ln in output.splitlines() if f"--out {shard} " in ln]
    return json.loads(re.search(r"--settings '([^']+)'", line)[1])


def test_each_option_adds_its_own_shards_and_the_quick_preset_adds_none(tmp_path):
    overlay = {"cifar": {"smoothness": {"robustness_probe_steps": ["heavy_ball"]}}}
    layer = write_config(tmp_path / "robust.yaml", overlay)
    plan = Plan(quick_config(overlay)).cifar
    run = snakemake(
        tmp_path / "work", TARGET, "-n", "-p", "--configfile", str(QUICK), str(layer),
        timeout=300,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    counts = _job_counts(out)
    assert counts["cifar_smoothness"] == len(plan.smoothness_shards())
    assert counts["cifar_smoothness_probe"] == len(plan.robustness_shards())
    for shard in plan.robustness_shards():
        headline = shard.replace("probe-heavy_ball/", "")
        expected = {**_settings_of(out, headline), "probe_step": "heavy_ball"}
        assert _settings_of(out, shard) == expected
    (tables,) = [ln for ln in out.splitlines() if "python -m signgeom.analysis.tables" in ln]
    assert all(s in tables for s in plan.smoothness_shards() + plan.robustness_shards())

    quick = snakemake(tmp_path / "quick", TARGET, "-n", "--configfile", str(QUICK), timeout=300)
    assert quick.returncode == 0, quick.stdout + quick.stderr
    counts = _job_counts(quick.stdout + quick.stderr)
    assert "cifar_smoothness_probe" not in counts
    assert counts["cifar_smoothness"] == len(plan.smoothness_shards())
