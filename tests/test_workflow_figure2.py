"""The Snakemake workflow: Figure 2 end to end on a tiny config; config errors before any job."""

import copy

import pandas as pd
import pytest

from figure_checks import assert_figure2_draws, assert_image_files
from workflow_helpers import TINY_QUADRATIC, snakemake, write_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("fig2")
    config = write_config(workdir / "tiny.yaml", TINY_QUADRATIC)
    first = snakemake(workdir, "--configfile", str(config), "--cores", "2", "figure2")
    return workdir, config, first


def test_figure2_chain_runs_end_to_end(tiny_run):
    workdir, _, first = tiny_run
    assert first.returncode == 0, first.stderr[-3000:]
    assert_image_files(workdir / "figures" / name for name in ("figure2.pdf", "figure2.png"))
    summary = pd.read_csv(workdir / "results/quadratic/summary.csv")
    assert len(summary) == 9
    assert_figure2_draws(summary)
    assert (workdir / "results/quadratic/runs.parquet").exists()
    for rule in ("hessians", "constants", "runs", "summary"):
        assert (workdir / f"logs/quadratic/{rule}.log").exists()
        assert (workdir / f"benchmarks/quadratic/{rule}.tsv").exists()


def test_second_run_has_nothing_to_do(tiny_run):
    workdir, config, _ = tiny_run
    again = snakemake(workdir, "--configfile", str(config), "--cores", "2", "figure2")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def bad_config(change):
    config = copy.deepcopy(TINY_QUADRATIC)
    change(config["quadratic"])
    return config


@pytest.mark.parametrize(
    "change, key, message",
    [
        (lambda q: q.update(colour="red"), "quadratic.colour", "unknown key"),
        (lambda q: q["theta"].update(max=1.5), "quadratic.theta.max", "greater than the maximum"),
        (
            lambda q: q.update(dim=60, families=["power_law"]),
            "quadratic.dim",
            "too large for the exact L_inf",
        ),
        (lambda q: q.update(aggregate="mode"), "quadratic.aggregate", "is not one of"),
    ],
)
def test_invalid_config_fails_before_any_job(tmp_path, change, key, message):
    config = write_config(tmp_path / "bad.yaml", bad_config(change))
    result = snakemake(tmp_path, "--configfile", str(config), "--cores", "1", "figure2")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"config key '{key}'" in output and message in output
    assert not (tmp_path / "results").exists()
