"""Reruns of a finished quick preset: a deleted result is rebuilt, a moved checkout reruns
nothing (rule params hold no absolute paths)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from signgeom.workflow import REPO
from workflow_helpers import QUICK, quick_run, snakemake, write_config

pytestmark = pytest.mark.slow

# Every result file of the README's "Outputs" table (figures and provenance are targets anyway).
DOCUMENTED = [
    "results/quadratic/hessians.npz",
    "results/quadratic/constants.csv",
    "results/quadratic/runs.parquet",
    "results/quadratic/summary.csv",
    "results/saddles/saddles.csv",
    "results/cifar/step_sizes.csv",
    "results/cifar/metrics.csv",
    "results/cifar/smoothness.csv",
    f"results/cifar/runs/{quick_run('resnet20', 'signsgd', 0.001)}/status.json",
]


def _copy(workdir: Path, dest: Path) -> Path:
    return Path(shutil.copytree(workdir, dest, symlinks=True))


def test_deleted_results_are_rebuilt(quick_workflow, tmp_path):
    workdir = _copy(quick_workflow, tmp_path / "work")
    table = workdir / "results/cifar/smoothness.csv"
    before = pd.read_csv(table)
    table.unlink()
    rerun = snakemake(workdir, "--configfile", str(QUICK), "--cores", "2")
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    pd.testing.assert_frame_equal(pd.read_csv(table), before, check_exact=True)

    for path in DOCUMENTED:
        (workdir / path).unlink()
    plan = snakemake(workdir, "--configfile", str(QUICK), "-n", "--cores", "2")
    assert plan.returncode == 0, plan.stderr[-4000:]
    missing = [p for p in DOCUMENTED if p not in plan.stdout + plan.stderr]
    assert not missing, f"not rebuilt by the default target: {missing}"


def test_deleted_intermediate_files_are_rebuilt(quick_workflow, tmp_path):
    workdir = _copy(quick_workflow, tmp_path / "work")
    plan = snakemake(workdir, "--configfile", str(QUICK), "-n", "--cores", "2")
    assert "Nothing to be done" in plan.stdout + plan.stderr, (plan.stdout + plan.stderr)[-4000:]
    # one file of each kind a table is built from: a selection, a smoothness shard, Hessian tables
    results = workdir / "results/cifar"
    kinds = ["*/step_sizes.csv", "smoothness/**/*.csv", "hessian/**/epochs.csv"]
    kinds += ["hessian/**/density.csv"]
    for kind in kinds:
        path = sorted(results.glob(kind))[-1]
        name = str(path.relative_to(workdir))
        content, stat = path.read_bytes(), path.stat()
        path.unlink()
        plan = snakemake(workdir, "--configfile", str(QUICK), "-n", "--cores", "2")
        assert plan.returncode == 0, plan.stderr[-4000:]
        assert name in plan.stdout, f"{name} is not rebuilt"
        path.write_bytes(content)  # restored as it was, so the next deletion is seen alone
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_moved_checkout_reruns_nothing(quick_workflow, tmp_path):
    moved = tmp_path / "moved repository"
    moved.mkdir()
    for name in ("Snakefile", "config.yaml"):
        shutil.copy2(REPO / name, moved / name)
    for name in ("workflow", "presets"):
        shutil.copytree(REPO / name, moved / name)
    (moved / "data").symlink_to(REPO / "data")
    workdir = _copy(quick_workflow, tmp_path / "work")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(moved / "Snakefile"), "-d", str(workdir)]
    cmd += ["--configfile", str(moved / "presets/quick.yaml"), "-n", "--cores", "2"]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    plan = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert plan.returncode == 0, plan.stderr[-4000:]
    assert "Nothing to be done" in plan.stdout + plan.stderr, (plan.stdout + plan.stderr)[-4000:]


def test_a_failed_job_shows_its_log_on_the_console(tmp_path):
    source = tmp_path / "my-cifar-copy"
    source.mkdir()  # exists, but holds no batch files
    config = write_config(
        tmp_path / "c.yaml", {"cifar": {"data": {"source": "local", "local_dir": str(source)}}}
    )
    run = snakemake(
        tmp_path / "work",
        "data/cifar10/cifar-10-batches-py",
        "--configfile",
        str(config),
        "--cores",
        "1",
    )
    assert run.returncode != 0
    console = run.stdout + run.stderr
    assert f"data_batch_1 is missing from {source}" in console  # the log's content, not its path
    assert "your source copy" in console and "Delete" not in console
