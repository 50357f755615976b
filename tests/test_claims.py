"""Claims verdicts on synthetic tables with known answers; t-intervals against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from signgeom.cifar.claims import ClaimSettings, compute_claims, verdict
from signgeom.stats import geometric_t_interval, t_interval


def test_t_interval_closed_form():
    mean, lo, hi, n = t_interval([1.0, 2.0, 3.0], 0.95)
    half = 4.30265272975 / math.sqrt(3)  # t_{0.975, 2} s / sqrt(n), s = 1
    assert (mean, n) == (2.0, 3)
    assert (lo, hi) == pytest.approx((2 - half, 2 + half), rel=1e-9)
    one = t_interval([5.0], 0.9)
    assert one.mean == 5.0 and math.isnan(one.lo) and math.isnan(one.hi) and one.n == 1
    g = geometric_t_interval([2.0, 8.0], 0.9)
    assert g.mean == pytest.approx(4.0)  # geometric mean
    assert g.lo * g.hi == pytest.approx(16.0)  # symmetric in log space


@pytest.mark.parametrize(
    ("direction", "value", "lo", "hi", "expected"),
    [
        ("above", 2.0, 1.5, 2.5, "holds"),
        ("above", 0.5, 0.4, 0.7, "fails"),
        ("above", 1.1, 0.8, 1.4, "inconclusive"),
        ("below", 0.5, 0.4, 0.7, "holds"),
        ("below", 2.0, 1.5, 2.5, "fails"),
        ("similar", 1.1, 0.9, 1.3, "holds"),
        ("similar", 2.0, 1.8, 2.3, "fails"),
        ("similar", 1.4, 1.2, 1.7, "inconclusive"),
        ("above", 1.3, math.nan, math.nan, "holds"),  # one seed: the point value decides
        ("below", 1.3, math.nan, math.nan, "fails"),
    ],
)
def test_verdict_rule(direction, value, lo, hi, expected):
    assert verdict(direction, value, lo, hi, factor=1.5) == expected


def _tables(cnn_ratio_per_seed, rhat_per_seed, sim_per_seed):
    """Selected CNN runs whose final SGD/signSGD loss ratios, R_hat levels and trajectory
    ratios per seed are the given numbers."""
    metrics, smooth = [], []
    for seed, (ratio, rhat, sim) in enumerate(
        zip(cnn_ratio_per_seed, rhat_per_seed, sim_per_seed, strict=True)
    ):
        for epoch in range(5):
            for opt, loss in (("sgd", ratio * 0.5), ("signsgd", 0.5)):
                metrics.append(
                    dict(model="cnn", optimizer=opt, lr=0.1, seed=seed, epoch=epoch,
                         train_loss=2.0 if epoch == 0 else loss, selected=True,
                         status="completed")
                )  # fmt: skip
        for epoch in (0, 2, 4):
            smooth.append(dict(model="cnn", optimizer="sgd", seed=seed, epoch=epoch, R_hat=rhat))
            smooth.append(
                dict(model="cnn", optimizer="signsgd", seed=seed, epoch=epoch, R_hat=rhat * sim)
            )
    return pd.DataFrame(metrics), pd.DataFrame(smooth)


def _row(table, claim):
    return table.set_index("claim").loc[claim]


def test_clear_win_clear_loss_and_straddle():
    settings = ClaimSettings(level=0.9, early_fraction=0.25, similar_factor=1.5)
    # loss ratio clearly above 1 (win), R_hat clearly below 1 (claim a_rhat_early fails),
    # trajectory ratio straddling the similarity band's edge (inconclusive)
    metrics, smooth = _tables([2.0, 2.2, 1.9], [0.5, 0.6, 0.55], [1.1, 2.0, 1.4])
    table = compute_claims(metrics, smooth, settings)
    assert set(table["claim"]) == {"a_loss", "a_rhat_early", "c_similar_cnn"}  # no resnet20
    win = _row(table, "a_loss")
    assert win["verdict"] == "holds" and win["n_seeds"] == 3
    assert win["value"] == pytest.approx(np.exp(np.log([2.0, 2.2, 1.9]).mean()))
    assert win["lo"] > 1
    loss = _row(table, "a_rhat_early")
    assert loss["verdict"] == "fails" and loss["hi"] < 1
    pooled = np.array([0.5, 0.6, 0.55]) * np.sqrt([1.1, 2.0, 1.4])  # both trajectories pooled
    assert loss["value"] == pytest.approx(np.exp(np.log(pooled).mean()))
    straddle = _row(table, "c_similar_cnn")
    assert straddle["lo"] < 1.5 < straddle["hi"]
    assert straddle["verdict"] == "inconclusive"


def test_interval_containing_threshold_is_inconclusive():
    metrics, smooth = _tables([0.8, 1.3, 1.1], [0.9, 1.2, 1.0], [1.0, 1.0, 1.0])
    table = compute_claims(metrics, smooth)
    assert _row(table, "a_loss")["verdict"] == "inconclusive"
    assert _row(table, "a_rhat_early")["verdict"] == "inconclusive"
    assert _row(table, "c_similar_cnn")["verdict"] == "holds"  # exactly 1 on every seed


def test_single_seed_says_so():
    metrics, smooth = _tables([1.5], [1.2], [1.0])
    table = compute_claims(metrics, smooth)
    row = _row(table, "a_loss")
    assert row["n_seeds"] == 1 and math.isnan(row["lo"]) and math.isnan(row["hi"])
    assert row["verdict"] == "holds" and "one seed" in row["note"]


def test_early_window_uses_only_early_epochs():
    metrics, smooth = _tables([1.0], [1.0], [1.0])
    smooth.loc[smooth["epoch"] > 1, "R_hat"] = 100.0  # late estimates must not count
    table = compute_claims(metrics, smooth, ClaimSettings(early_fraction=0.25))
    assert _row(table, "a_rhat_early")["value"] == pytest.approx(1.0)
