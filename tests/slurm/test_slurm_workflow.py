"""The real workflow through the SLURM profile on the local one-node cluster.

* The quick preset submitted with ``--profile profiles/slurm-local-test`` goes through sbatch
  (SLURM job ids, SLURM logs) and produces exactly the numbers of a local run (its quadratic
  stage and the CNN's training and estimates are redone in a copy of the local run).
* A training job cancelled with ``scancel`` is retried by Snakemake and resumes from its last
  checkpoint; its final metrics equal those of an uninterrupted run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from figure_checks import assert_image_files  # noqa: E402
from signgeom.workflow import snakemake_command  # noqa: E402
from slurm.conftest import slurm_submissions  # noqa: E402
from workflow_helpers import QUICK, SNAKEFILE, quick_run  # noqa: E402

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

TIMING_COLUMNS = {"epoch_seconds", "seconds"}
TABLES = [
    "results/quadratic/summary.csv",
    "results/cifar/step_sizes.csv",
    "results/cifar/metrics.csv",
    "results/cifar/smoothness.csv",
]


def submitted_rules(text: str) -> Counter:
    """Number of SLURM submissions per rule (group jobs count under ``group_<name>``)."""
    rules = Counter()
    for sub in slurm_submissions(text):
        folder = Path(sub["log"]).parent
        while folder.parent.name != "slurm_logs":
            folder = folder.parent
        rules[folder.name] += 1
    return rules


def read_numbers(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path)
    return table.drop(columns=[c for c in table.columns if c in TIMING_COLUMNS])


# Redone through SLURM in a copy of the local quick-preset run: the whole quadratic stage (one
# group job) and the CNN's selected trajectories (their two training runs, the CNN's selection
# over all four runs, and both estimates), then the tables. The rest stays from the local run:
# through SLURM it would only repeat the same rules. (Snakemake rebuilds a missing file only
# where something downstream is missing too, so the selection and the tables go as well.)
REDO = [
    "results/quadratic",
    "results/cifar/cnn",
    "results/cifar/smoothness/cnn",
    *TABLES[1:],
]


def selected_runs(workdir: Path, model: str) -> list[str]:
    """The run directories of ``model``'s selected step sizes (one per optimizer)."""
    chosen = pd.read_csv(workdir / f"results/cifar/{model}/step_sizes.csv")
    return [
        f"results/cifar/runs/{quick_run(model, o, lr)}"
        for o, lr in zip(chosen["optimizer"], chosen["lr"], strict=True)
    ]


def test_quick_preset_through_slurm_equals_local_run(slurm_cluster, quick_workflow, tmp_path):
    workdir = Path(shutil.copytree(quick_workflow, tmp_path / "slurm-run", symlinks=True))
    for path in map(workdir.joinpath, REDO + selected_runs(quick_workflow, "cnn")):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    # Figures 2 and 3 and their tables: the stages whose numbers are compared (the extra
    # stages, Prop. 5 and the Hessian premises, are tested locally; through SLURM they only
    # add submissions and status polls).
    targets = [*TABLES, "figures/figure2.png", "figures/figure3.png"]
    proc = slurm_cluster.run_snakemake(
        [*targets, "-s", SNAKEFILE, "-d", workdir, "--configfile", QUICK], cwd=workdir, timeout=1500
    )
    assert proc.returncode == 0, proc.stdout[-6000:]

    rules = submitted_rules(proc.stdout)
    assert rules["rule_cifar_train"] == 2, rules
    assert rules["rule_cifar_smoothness"] == 2, rules
    # The quadratic stage is one submission (its log folder names the group and its rules).
    assert sum(n for name, n in rules.items() if name.startswith("group_quadratic")) == 1, rules
    assert not any("figure" in name or "select" in name for name in rules)  # local rules
    for sub in slurm_submissions(proc.stdout):
        assert sub["slurm"].isdigit() and Path(sub["log"]).exists()
    states = slurm_cluster.jobs()
    assert all(states[s["slurm"]]["state"] == "COMPLETED" for s in slurm_submissions(proc.stdout))

    for table in TABLES:
        pd.testing.assert_frame_equal(
            read_numbers(workdir / table), read_numbers(quick_workflow / table), check_exact=True
        )
    # the figures drawn from these tables: their numbers are checked by test_workflow_quick
    assert_image_files(workdir / "figures" / figure for figure in ("figure2.png", "figure3.png"))


LONGER = {  # 8 shorter epochs (500 images, eval-mode train pass at epochs 0 and 8 only)
    "cifar": {
        "models": {"cnn": {"epochs": 8, "selection_epoch": 8}},
        "data": {"train_limit": 500},
        "evaluation": {"train_every": 8},
    }
}
RUN_NAME = quick_run("cnn", "sgd", 0.01, override=LONGER)
RUN = f"results/cifar/runs/{RUN_NAME}"


def metrics_rows(path: Path) -> int:
    try:
        return len(pd.read_csv(path))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return 0


def test_cancelled_training_job_is_retried_and_resumes(slurm_cluster, tmp_path):
    override = tmp_path / "longer.yaml"
    override.write_text(yaml.safe_dump(LONGER))
    config_args = ["--configfile", QUICK, override]
    target = f"{RUN}/status.json"

    # The uninterrupted reference run, locally, alongside (one core each).
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    local_log = (tmp_path / "local.log").open("w")
    local = subprocess.Popen(
        snakemake_command(local_dir, target, "--cores", "1", *map(str, config_args)),
        stdout=local_log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )

    slurm_dir = tmp_path / "slurm"
    slurm_dir.mkdir()
    log = tmp_path / "snakemake.log"
    # The target goes first: --configfile takes every following word as a file.
    proc = slurm_cluster.popen_snakemake(
        [target, "-s", SNAKEFILE, "-d", slurm_dir, *config_args], cwd=slurm_dir, log=log
    )
    try:
        first = slurm_cluster.wait_for_submitted_job(
            log, rule="cifar_train", timeout=300, proc=proc
        )
        slurm_cluster.wait_for_running(first)
        deadline = time.monotonic() + 300
        # Epoch-0 row plus at least two trained epochs: a checkpoint exists mid-run.
        while metrics_rows(slurm_dir / RUN / "metrics.csv") < 3:
            assert time.monotonic() < deadline, "training never reached epoch 2"
            time.sleep(0.2)
        slurm_cluster.scancel(first)
        assert proc.wait(timeout=900) == 0, log.read_text()[-6000:]
        assert local.wait(timeout=900) == 0, (tmp_path / "local.log").read_text()[-4000:]
    finally:
        for process in (proc, local):
            if process.poll() is None:
                process.kill()
        local_log.close()

    text = log.read_text()
    train_jobs = [s["slurm"] for s in slurm_submissions(text) if "/rule_cifar_train/" in s["log"]]
    assert len(train_jobs) == 2 and train_jobs[0] == first, text[-4000:]
    jobs = slurm_cluster.jobs()
    assert jobs[first]["state"] == "CANCELLED"
    # the retry asks for more time: resources.train.runtime_min (20) x attempt
    assert (jobs[first]["time_limit"], jobs[train_jobs[1]]["time_limit"]) == ("20:00", "40:00")
    train_log = (slurm_dir / f"logs/cifar/train/{RUN_NAME}.log").read_text()
    assert "resumed from" in train_log

    resumed = read_numbers(slurm_dir / RUN / "metrics.csv")
    uninterrupted = read_numbers(local_dir / RUN / "metrics.csv")
    assert list(resumed["epoch"]) == list(range(9))
    pd.testing.assert_frame_equal(resumed, uninterrupted, check_exact=True)
