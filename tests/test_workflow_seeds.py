"""Seeds all the way through: a tiny workflow with the grid on one seed and the selected
trajectories repeated on two gives two estimate rows per epoch, and Figure 3 draws the
geometric mean and t-interval over them; the claims table is computed from the same tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from signgeom.plotting.figure3 import draw_figure3
from workflow_helpers import QUICK, snakemake, write_config

pytestmark = pytest.mark.slow

TINY = {
    "cifar": {
        "data": {"train_limit": 200, "test_limit": 100},
        "seeds": [0, 1],
        "selection_seeds": [0],
        "evaluation": {"train_every": 1, "train_subset": 100},
        "batch_size": 50,
        "models": {
            "cnn": {
                "epochs": 1,
                "selection_epoch": 1,
                "step_sizes": {"sgd": [0.01, 0.03], "signsgd": [0.0001]},
            },
            # kept minimal (a null entry would drop it, as the quick preset's transformer is)
            "resnet20": {
                "epochs": 1,
                "selection_epoch": 1,
                "step_sizes": {"sgd": [0.03], "signsgd": [0.001]},
            },
            "transformer-tiny": None,
        },
        # fp32 (the quick preset's fp64 is for its regression digits): no assertion needs it
        "smoothness": {
            "stride": 1,
            "n_examples": 16,
            "chunk_size": 16,
            "shards": 1,
            "precision": "fp32",
        },
        "sensitivity": {"models": ["cnn"], "n_epochs": 1, "factors": [0.1, 1.0]},
        "hessian": {"models": ["cnn"]},
    }
}


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("seeds")
    config = write_config(workdir / "tiny.yaml", TINY)
    targets = ["results/cifar/claims.csv", "figures/figure3.png", "figures/sensitivity.png"]
    result = snakemake(workdir, *targets, "--configfile", str(QUICK), str(config), "--cores", "2")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_grid_on_selection_seeds_repeats_on_all_seeds(two_seeds):
    metrics = pd.read_csv(two_seeds / "results/cifar/metrics.csv")
    assert not metrics.duplicated(["model", "optimizer", "lr", "seed", "epoch"]).any()
    metrics = metrics[metrics["model"] == "cnn"]
    runs = metrics[["optimizer", "lr", "seed"]].drop_duplicates()
    chosen = pd.read_csv(two_seeds / "results/cifar/step_sizes.csv")
    assert (chosen["n_seeds"] == 1).all()  # the grid ran on seed 0 only
    chosen = chosen[chosen["model"] == "cnn"]
    sgd_lr = float(chosen.set_index("optimizer").loc["sgd", "lr"])
    assert set(runs[runs["seed"] == 1]["lr"]) == {sgd_lr, 0.0001}  # repeats: the chosen only
    assert len(runs[runs["seed"] == 0]) == 3  # the whole grid on seed 0


def test_two_estimate_rows_per_epoch_and_bands_from_them(two_seeds):
    smooth = pd.read_csv(two_seeds / "results/cifar/smoothness.csv")
    counts = smooth.groupby(["model", "optimizer", "epoch"])["seed"].nunique()
    assert (counts == 2).all() and len(counts) == 8  # 2 models x 2 trajectories x epochs 0, 1
    metrics = pd.read_csv(two_seeds / "results/cifar/metrics.csv")
    chosen = pd.read_csv(two_seeds / "results/cifar/step_sizes.csv")
    fig = draw_figure3(chosen, smooth, metrics, level=0.9)
    ax_ratio = fig.axes[1]  # the first row: cnn
    smooth = smooth[smooth["model"] == "cnn"]
    t = stats.t.ppf(0.95, 1)
    for opt in ("sgd", "signsgd"):
        est = smooth[smooth["optimizer"] == opt]
        est = est.pivot(index="epoch", columns="seed", values="R_hat")
        logs = np.log(est.to_numpy())
        mean = np.exp(logs.mean(1))
        half = t * logs.std(1, ddof=1) / math.sqrt(2)
        drawn = [ln for ln in ax_ratio.lines if ln.get_label() == f"along {_label(opt)}"]
        assert len(drawn) == 1
        np.testing.assert_allclose(drawn[0].get_ydata(), mean, rtol=1e-12)
        band = [c for c in ax_ratio.collections if c.get_label() != "_nolegend_"]
        vertices = np.concatenate([p.vertices for c in band for p in c.get_paths()])
        for lo, hi in zip(np.exp(logs.mean(1) - half), np.exp(logs.mean(1) + half), strict=True):
            assert np.isclose(vertices[:, 1], lo, rtol=1e-9).any()
            assert np.isclose(vertices[:, 1], hi, rtol=1e-9).any()


def _label(opt):
    return {"sgd": "SGD (momentum)", "signsgd": "signSGD (momentum)"}[opt]


def test_claims_and_sensitivity_come_from_the_run(two_seeds):
    claims = pd.read_csv(two_seeds / "results/cifar/claims.csv", keep_default_na=False)
    assert len(claims) == 6  # every claim of the paper: both models present
    # one epoch: the early window (0, 0.25] holds no estimate after the start
    early = claims["claim"] == "a_rhat_early"
    assert (claims.loc[~early, "n_seeds"] == 2).all() and (claims.loc[early, "n_seeds"] == 0).all()
    assert claims.loc[early, "note"].str.startswith("no value of this statistic on seed 0 1").all()
    assert (claims["verdict"] == "inconclusive").all()  # 2 seeds, fewer than min_seeds (3)
    sens = pd.read_csv(two_seeds / "results/cifar/sensitivity.csv")
    assert set(sens["factor"]) == {0.1, 1.0} and (sens["seed"] == 0).all()
    smooth = pd.read_csv(two_seeds / "results/cifar/smoothness.csv")
    at_one = sens[(sens["factor"] == 1.0) & (sens["gamma"] == sens["gamma"].max())]
    for row in at_one.itertuples():  # factor 1 reproduces the estimator's own R_hat
        same = smooth[(smooth["model"] == "cnn") & (smooth["optimizer"] == row.optimizer)
                      & (smooth["seed"] == 0)
                      & (smooth["epoch"] == row.epoch)]  # fmt: skip
        assert row.R_hat == pytest.approx(float(same["R_hat"].iloc[0]), rel=1e-9)
