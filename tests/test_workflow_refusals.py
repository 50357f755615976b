"""What the workflow refuses when its Snakefile is read, before any job runs (dry runs, a few
seconds each): config files that would lie, output roots that are dangling links, a
``cifar.data.local_dir`` that holds no copy."""

from __future__ import annotations

import shutil

from signgeom.tasks.cifar.data import REQUIRED_FILES
from signgeom.workflow import REPO
from workflow_helpers import snakemake, write_config

SUBSET = REPO / "data/cifar10-subset/cifar-10-batches-py"


def test_the_workflow_refuses_a_duplicate_key_before_any_job(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("cifar:\n  batch_size: 64\n  batch_size: 128\n")
    run = snakemake(tmp_path / "work", "-n", "--configfile", str(path), timeout=300)
    assert run.returncode != 0
    assert f"{path}, line 3: duplicate key 'batch_size'" in run.stdout + run.stderr


def test_a_dangling_results_link_is_named_before_any_job(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "results").symlink_to(tmp_path / "unmounted")
    run = snakemake(workdir, "-n", timeout=300)
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert f"{workdir / 'results'} is a symbolic link to {tmp_path / 'unmounted'}" in out


def test_a_mistyped_local_dir_stops_the_workflow_before_the_data_job(tmp_path):
    """With data/cifar10 in place, a typo in cifar.data.local_dir would rerun the data job
    (its settings changed); the job is never started, so the copy and every estimate built on
    it stay up to date when the typo is reverted."""
    workdir = tmp_path / "work"
    copy = workdir / "data/cifar10/cifar-10-batches-py"
    shutil.copytree(SUBSET, copy)
    typo = tmp_path / "cifar10-subsett"
    config = {"cifar": {"data": {"source": "local", "local_dir": str(typo)}}}
    run = snakemake(
        workdir, str(copy), "-n", "--configfile", str(write_config(tmp_path / "c.yaml", config))
    )
    assert run.returncode != 0
    assert f"'cifar.data.local_dir': {typo} is not a directory" in run.stdout + run.stderr
    assert sorted(p.name for p in copy.iterdir()) == sorted(REQUIRED_FILES)
