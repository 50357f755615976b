"""Estimates of several probe options in one table: which rows each reader takes. The tables
step keeps every option's rows apart by ``probe_step``; every reader that means the paper's
estimator (Figure 3, the Hessian join, the rotation table) reads the same numbers as from a
table of the headline rows alone, and an epoch is never counted twice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from signgeom.analysis.hessian_tables import join_smoothness
from signgeom.analysis.probe_options import (
    HEADLINE,
    ROBUSTNESS,
    headline_rows,
    once_per_estimate,
    probe_rows,
    row_options,
)
from signgeom.analysis.tables import combine_smoothness
from signgeom.probes import PROBE_STEPS


def _estimates(option: str | None, scale: float = 1.0, seeds=(0, 1)) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = [
        {"model": "cnn", "optimizer": opt, "lr": lr, "seed": seed, "epoch": epoch,
         "R_hat": scale * rng.uniform(0.5, 2.0), "phi": 0.4}
        for opt, lr in (("sgd", 0.01), ("signsgd", 1e-4))
        for seed in seeds
        for epoch in (0, 2, 4)
    ]  # fmt: skip
    table = pd.DataFrame(rows)
    return table if option is None else table.assign(probe_step=option)


def test_the_options_are_the_estimators_and_raw_is_the_headline():
    assert HEADLINE == "raw" and set(ROBUSTNESS) | {HEADLINE} == set(PROBE_STEPS)
    assert HEADLINE not in ROBUSTNESS


def test_headline_rows_drop_the_other_options_and_keep_a_one_option_table_whole():
    raw, heavy = _estimates("raw"), _estimates("heavy_ball", scale=3.0)
    mixed = pd.concat([heavy, raw], ignore_index=True)
    pd.testing.assert_frame_equal(headline_rows(mixed).reset_index(drop=True), raw)
    assert headline_rows(raw) is raw
    alone = _estimates("heavy_ball")  # a config whose probe_step is heavy_ball, no options
    assert headline_rows(alone) is alone
    unlabelled = _estimates(None)  # a table written before the probe_step column
    assert headline_rows(unlabelled) is unlabelled
    assert (row_options(unlabelled) == HEADLINE).all()


def test_several_options_without_the_headline_or_an_estimate_listed_twice_are_refused():
    both = pd.concat([_estimates("heavy_ball"), _estimates("radius")], ignore_index=True)
    with pytest.raises(ValueError, match="none of the headline 'raw'"):
        headline_rows(both)
    twice = pd.concat([_estimates("raw"), _estimates("raw").iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match=r"listed twice .*\[\['cnn', 'sgd', 0, 0, 0.01\]\]"):
        headline_rows(twice)
    # two runs of one optimizer (another lr) are two estimates, not one listed twice
    other_lr = _estimates("raw").assign(lr=lambda t: t["lr"] * 3)
    assert len(once_per_estimate(pd.concat([_estimates("raw"), other_lr]))) == 24


def test_a_failed_estimate_of_one_option_counts_under_that_option_only():
    raw = _estimates("raw")
    heavy = _estimates("heavy_ball").assign(R_hat=np.nan)  # every heavy_ball estimate failed
    loss = pd.DataFrame({"model": ["cnn"], "seed": [0], "R_hat": [np.nan]})  # no option, no R
    table = pd.concat([raw, heavy, loss], ignore_index=True)
    headline = probe_rows(table, "raw", "R_hat")
    assert len(headline) == len(raw) + 1 and headline["R_hat"].notna().sum() == len(raw)
    assert len(probe_rows(table, "heavy_ball", "R_hat")) == len(heavy) + 1
    assert len(probe_rows(table, "radius", "R_hat")) == 1  # the row of no option only


def _write(path, table: pd.DataFrame):
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path


def test_the_tables_step_keeps_every_options_rows_once(tmp_path):
    raw, heavy = _estimates("raw"), _estimates("heavy_ball", scale=3.0)
    shards = [
        _write(tmp_path / "sgd/seed0/shard0.csv", raw.iloc[::2]),
        _write(tmp_path / "sgd/seed0/shard1.csv", raw.iloc[1::2]),
        _write(tmp_path / "sgd/seed0/probe-heavy_ball/shard0.csv", heavy),
        _write(tmp_path / "empty.csv", raw.iloc[:0]),
    ]
    table = combine_smoothness(shards)
    assert len(table) == len(raw) + len(heavy)
    assert table.groupby("probe_step").size().to_dict() == {"heavy_ball": 12, "raw": 12}
    key = ["model", "optimizer", "seed", "epoch"]
    for option, source in (("raw", raw), ("heavy_ball", heavy)):
        got = table[table["probe_step"] == option].set_index(key)["R_hat"].sort_index()
        pd.testing.assert_series_equal(got, source.set_index(key)["R_hat"].sort_index())
    # the same epoch twice under one option (overlapping shards) is still an error
    again = _write(tmp_path / "again.csv", heavy.iloc[:1])
    with pytest.raises(ValueError, match="estimated twice"):
        combine_smoothness([*shards, again])
    # a shard written before the probe_step column holds raw estimates
    old = _write(tmp_path / "old.csv", _estimates(None))
    assert (combine_smoothness([old])["probe_step"] == "raw").all()


def test_the_hessian_join_takes_the_headline_estimate():
    raw, heavy = _estimates("raw"), _estimates("heavy_ball", scale=3.0)
    hessian = raw[["model", "optimizer", "seed", "epoch"]].assign(lambda_max=1.0)
    joined = join_smoothness(hessian, pd.concat([heavy, raw], ignore_index=True))
    np.testing.assert_array_equal(joined["R_hat"], raw["R_hat"])
    assert len(joined) == len(hessian)


def test_figure3_draws_the_headline_estimates_whatever_else_the_table_holds():
    import matplotlib.pyplot as plt

    from signgeom.plotting.figure3 import draw_figure3

    raw, heavy = _estimates("raw"), _estimates("heavy_ball", scale=3.0)
    steps = pd.DataFrame({"model": ["cnn", "cnn"], "optimizer": ["sgd", "signsgd"],
                          "lr": [0.01, 1e-4]})  # fmt: skip
    metrics = raw[["model", "optimizer", "lr", "seed", "epoch"]].assign(
        train_loss=lambda t: 2.0 / (1 + t["epoch"]), selected=True, status="completed"
    )
    drawn = []
    for smoothness in (raw, pd.concat([heavy, raw], ignore_index=True)):
        fig = draw_figure3(steps, smoothness, metrics)
        ratio = fig.axes[1]
        drawn.append(sorted(tuple(map(tuple, ln.get_xydata())) for ln in ratio.get_lines()))
        plt.close(fig)
    assert drawn[0] == drawn[1]
    means = {ln[0][1] for ln in drawn[0]}  # epoch 0's geometric mean over seeds, per optimizer
    for opt in ("sgd", "signsgd"):
        first = raw[(raw["optimizer"] == opt) & (raw["epoch"] == 0)]["R_hat"]
        assert any(np.isclose(m, np.exp(np.log(first).mean())) for m in means)
