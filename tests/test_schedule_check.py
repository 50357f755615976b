"""The schedule check against curves whose interpolation error is known in closed form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from signgeom.analysis.schedule_check import schedule_comparison, schedule_summary
from signgeom.plotting.schedule_check import draw_schedule_check
from signgeom.training.schedule import estimate_epochs

SCHEDULE = {"dense_until": 4, "every": 1, "log_points": 4}


def dense(r_hat: np.ndarray, optimizer: str = "sgd") -> pd.DataFrame:
    epochs = np.arange(len(r_hat))
    return pd.DataFrame({"model": "cnn", "optimizer": optimizer, "seed": 0, "epoch": epochs,
                         "R_hat": r_hat})  # fmt: skip


def test_log_linear_curve_is_recovered_exactly():
    r_hat = 2.0 * np.exp(-0.05 * np.arange(41))  # log-linear: interpolation is exact
    comparison = schedule_comparison(dense(r_hat), SCHEDULE)
    np.testing.assert_allclose(comparison["R_hat_schedule"], r_hat, rtol=1e-12)
    summary = schedule_summary(comparison).iloc[0]
    chosen = estimate_epochs(40, 1, SCHEDULE)
    assert summary["n_scheduled"] == len(chosen) and summary["n_dense"] == 41
    assert summary["cost_ratio"] == pytest.approx(len(chosen) / 41)
    assert summary["max_rel_error"] == pytest.approx(0.0, abs=1e-12)
    assert summary["max_consecutive_ratio"] == pytest.approx(np.exp(0.05))
    assert summary["geomean_interpolated"] == pytest.approx(summary["geomean_dense"])
    # the scheduled epochs are mostly early, where R_hat is larger
    assert summary["geomean_scheduled"] > summary["geomean_dense"]


def test_a_spike_between_scheduled_epochs_is_the_error():
    r_hat = np.ones(41)
    chosen = set(estimate_epochs(40, 1, SCHEDULE))
    missed = next(e for e in range(41) if e not in chosen)
    r_hat[missed] = 3.0
    comparison = schedule_comparison(dense(r_hat), SCHEDULE)
    row = comparison.set_index("epoch").loc[missed]
    assert not row["scheduled"] and row["R_hat_schedule"] == pytest.approx(1.0)
    assert row["rel_error"] == pytest.approx(2.0)  # exp|log(1/3)| - 1
    summary = schedule_summary(comparison).iloc[0]
    assert summary["max_rel_error"] == pytest.approx(2.0)
    assert summary["max_consecutive_ratio"] == pytest.approx(3.0)


def test_alternating_scatter_around_a_flat_trend_is_measured_and_followed():
    """log R_hat = +-a alternating (odd window: the trend is +-a/w), a schedule through
    every other point is a flat line at +a or the alternation itself: closed forms."""
    a, w = 0.3, 9
    log_r = a * (-1.0) ** np.arange(41)
    comparison = schedule_comparison(dense(np.exp(log_r)), SCHEDULE, window=w)
    interior = comparison.set_index("epoch").loc[w // 2 : 40 - w // 2]
    trend = np.log(interior["R_hat_trend"].to_numpy())
    np.testing.assert_allclose(np.abs(trend), a / w, rtol=1e-12)
    np.testing.assert_allclose(interior["scatter"], np.expm1(a - a / w), rtol=1e-12)
    summary = schedule_summary(comparison).iloc[0]
    assert summary["median_scatter"] == pytest.approx(np.expm1(a - a / w), rel=1e-12)
    assert summary["follows_trend"] == (
        summary["median_trend_error"] <= summary["median_scatter"]
    )
    spike = np.zeros(41)
    spike[20] = 2.0  # a spike at a scheduled (dense) epoch drags the schedule off the trend
    steady = schedule_summary(schedule_comparison(dense(np.exp(spike)), [0, 20, 40], 9))
    assert steady.iloc[0]["max_trend_error"] > steady.iloc[0]["median_scatter"]


def test_a_window_below_one_epoch_is_refused():
    with pytest.raises(ValueError, match="window"):
        schedule_comparison(dense(np.ones(5)), SCHEDULE, window=0)


def test_a_trajectory_with_gaps_is_refused():
    table = dense(np.ones(9)).iloc[::2]
    with pytest.raises(ValueError, match="not estimated at every epoch"):
        schedule_comparison(table, SCHEDULE)


def test_figure_draws_the_table():
    r_hat = 1.5 + np.sin(np.arange(21) / 3)
    comparison = schedule_comparison(
        pd.concat([dense(r_hat), dense(r_hat[::-1], "signsgd")]), SCHEDULE
    )
    fig = draw_schedule_check(comparison)
    for ax, opt in zip(fig.axes, ("sgd", "signsgd"), strict=True):
        part = comparison[comparison["optimizer"] == opt]
        every, through, points, trend = ax.get_lines()[:4]
        np.testing.assert_allclose(trend.get_ydata(), part["R_hat_trend"])
        np.testing.assert_allclose(every.get_ydata(), part["R_hat"])
        np.testing.assert_allclose(through.get_ydata(), part["R_hat_schedule"])
        np.testing.assert_allclose(points.get_xdata(), part.loc[part["scheduled"], "epoch"])


def test_cli_writes_both_tables_and_refuses_a_bad_schedule(tmp_path):
    from signgeom.analysis.schedule_check import main

    dense(np.linspace(1.0, 2.0, 11)).to_csv(tmp_path / "dense.csv", index=False)
    args = ["--smoothness", str(tmp_path / "dense.csv"), "--table", str(tmp_path / "t.csv"),
            "--summary", str(tmp_path / "s.csv")]  # fmt: skip
    main([*args, "--schedule", "[0, 5, 10]"])
    summary = pd.read_csv(tmp_path / "s.csv")
    assert summary["n_scheduled"].tolist() == [3]
    with pytest.raises(ValueError, match="dense_until"):
        main([*args, "--schedule", '{"dense_until": 0, "every": 1, "log_points": 2}'])
