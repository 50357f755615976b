"""The quick preset end to end: both figures, the result tables, logs and benchmarks."""

import json

import numpy as np
import pandas as pd
import pytest

from figure_checks import (
    assert_figure2_draws,
    assert_figure3_draws,
    assert_image_files,
    assert_premises_draw,
    assert_saddles_draw,
)
from signgeom.quadratic.saddle_runs import read_saddle_table
from signgeom.quadratic.saddles import Tube
from workflow_helpers import QUICK, quick_config, quick_run, snakemake

CIFAR_TABLES = ("step_sizes", "smoothness", "metrics")

pytestmark = pytest.mark.slow


def test_quick_preset_produces_both_figures(quick_workflow):
    figures = quick_workflow / "figures"
    assert_image_files(
        figures / f"{n}{s}" for n in ("figure2", "figure3") for s in (".pdf", ".png")
    )
    assert_figure2_draws(pd.read_csv(quick_workflow / "results/quadratic/summary.csv"))
    cifar = {t: pd.read_csv(quick_workflow / f"results/cifar/{t}.csv") for t in CIFAR_TABLES}
    assert_figure3_draws(cifar["step_sizes"], cifar["smoothness"], cifar["metrics"])


def test_smoothness_table_covers_both_trajectories_of_every_model(quick_workflow):
    table = pd.read_csv(quick_workflow / "results/cifar/smoothness.csv")
    assert {"model", "optimizer", "epoch", "phi", "L2_hat", "Linf_hat", "R_hat"} <= set(table)
    assert set(map(tuple, table[["model", "optimizer"]].drop_duplicates().values)) == {
        (m, o) for m in ("cnn", "resnet20", "transformer-tiny") for o in ("sgd", "signsgd")
    }
    assert sorted(table["epoch"].unique()) == [0, 3]  # quick preset: stride 3
    d = table["d"].to_numpy()
    assert np.all((table["phi"] >= 1 / d) & (table["phi"] <= 1))
    np.testing.assert_allclose(
        table["R_hat"], table["phi"] * d * table["L2_hat"] / table["Linf_hat"]
    )


def test_hessian_premises_cover_both_trajectories_with_r_hat(quick_workflow):
    table = pd.read_csv(quick_workflow / "results/cifar/hessian.csv")
    assert set(map(tuple, table[["model", "optimizer"]].drop_duplicates().values)) == {
        (m, o) for m in ("cnn", "resnet20") for o in ("sgd", "signsgd")
    }
    assert (table["epoch"] == 3).all()  # quick preset: only the last snapshot
    smooth = pd.read_csv(quick_workflow / "results/cifar/smoothness.csv")
    joined = table.merge(smooth, on=["model", "optimizer", "epoch"], suffixes=("", "_s"))
    np.testing.assert_array_equal(joined["R_hat"], joined["R_hat_s"])
    assert (table["lambda_max"] > 0).all() and (table["lambda_min"] < table["lambda_max"]).all()
    assert (table["trace_se"] > 0).all()
    blocks = pd.read_csv(quick_workflow / "results/cifar/hessian_blocks.csv")
    last = blocks[blocks["kind"] == "last_layer"]
    np.testing.assert_allclose(last["rho_diag"], 0.5, rtol=1e-4)  # softmax: rows sum to 0
    assert_image_files(quick_workflow / f"figures/premises{s}" for s in (".pdf", ".png"))
    density = pd.read_csv(quick_workflow / "results/cifar/hessian_density.csv")
    assert_premises_draw(table, density)


def test_step_sizes_follow_the_selection_rule(quick_workflow):
    chosen = pd.read_csv(quick_workflow / "results/cifar/step_sizes.csv")
    metrics = pd.read_csv(quick_workflow / "results/cifar/metrics.csv")
    for row in chosen.itertuples():
        runs = metrics[(metrics["model"] == row.model) & (metrics["optimizer"] == row.optimizer)]
        start = runs[runs["epoch"] == 0].set_index("lr")["train_loss"]
        end = runs[runs["epoch"] == 3].set_index("lr")["train_loss"]
        assert (start - end).idxmax() == pytest.approx(row.lr)
        assert runs[runs["lr"] == row.lr]["selected"].all()


def test_every_job_wrote_a_log_and_a_benchmark(quick_workflow):
    logs = list((quick_workflow / "logs").rglob("*.log"))
    benchmarks = list((quick_workflow / "benchmarks").rglob("*.tsv"))
    assert len(logs) == len(benchmarks) >= 20
    run = quick_run("cnn", "sgd", 0.01)
    train_log = (quick_workflow / f"logs/cifar/train/{run}.log").read_text()
    assert "img/s" in train_log and "ETA" in train_log
    status = json.loads((quick_workflow / f"results/cifar/runs/{run}/status.json").read_text())
    assert status["status"] == "completed" and status["epochs_completed"] == 3


def test_rerun_has_nothing_to_do(quick_workflow):
    again = snakemake(quick_workflow, "--configfile", str(QUICK), "--cores", "2", "-n")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def test_saddles_stage_shows_the_four_observations(quick_workflow):
    from signgeom.quadratic.saddle_runs import observations

    table = pd.read_csv(quick_workflow / "results/saddles/saddles.csv")
    assert len(table) == 5 * 11  # 5 methods x (unrotated + 10 Haar rotations)
    obs = observations(table, 10)
    times = obs["unrotated_times"][1:]
    assert times.max() - times.min() <= 1
    assert (obs["rotated_spread"].fillna(np.inf) > 10).all()
    assert obs["caught"] == {10: (2, 1)}
    assert obs["momentum_passed"] == {10: 10}
    assert_image_files(quick_workflow / f"figures/saddles{s}" for s in (".pdf", ".png"))
    traces = pd.read_parquet(quick_workflow / "results/saddles/traces.parquet")
    cfg = quick_config()["saddles"]
    tube = Tube(cfg["dim"], cfg["L"], cfg["gamma"], cfg["tau"])
    assert_saddles_draw(
        read_saddle_table(quick_workflow / "results/saddles/saddles.csv"), traces, tube
    )


def test_the_transformer_has_held_out_losses_and_claims_without_verdicts(quick_workflow):
    """The quick preset's transformer (one seed, one batch size): its held-out loss is in the
    losses table, and its claims are computed but inconclusive (1 seed, min 3)."""
    losses = pd.read_csv(quick_workflow / "results/cifar/transformer_losses.csv")
    assert set(losses["model"]) == {"transformer-tiny"}
    assert set(losses["optimizer"]) == {"sgd", "signsgd"}
    assert (losses["test_loss"] > 0).all() and (losses["epoch"] == 3).all()
    claims = pd.read_csv(quick_workflow / "results/cifar/transformer_claims.csv")
    assert {"t1_signsgd_transformer-tiny", "t2_rhat_transformer-tiny"} <= set(claims["claim"])
    assert (claims["verdict"] == "inconclusive").all()
