"""What the workflow refuses when its Snakefile is read, before any job runs (dry runs, a few
seconds each): config files that would lie, output roots that are dangling links."""

from __future__ import annotations

from workflow_helpers import snakemake


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
