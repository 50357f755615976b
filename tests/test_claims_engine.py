"""The claims engine: verdict rule, seed exclusion, probe options, grid edges, named errors; the
statistics over trajectories against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from signgeom.analysis.claims import (
    NO_DATA,
    Agreement,
    Claim,
    ClaimSet,
    agreement,
    claims_table,
    evaluate,
    grid_edges,
    probe_rows,
    read_input,
    verdict,
)
from signgeom.analysis.statistics import (
    pooled_geomean,
    tail_epochs,
    tail_log_loss,
    tail_loss_ratio,
    trajectory_ratio,
)
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
    ("direction", "lo", "hi", "expected"),
    [
        ("above", 1.5, 2.5, "holds"),
        ("above", 0.4, 0.7, "fails"),
        ("above", 0.8, 1.4, "inconclusive"),
        ("below", 0.4, 0.7, "holds"),
        ("below", 1.5, 2.5, "fails"),
        ("similar", 0.9, 1.3, "holds"),
        ("similar", 1.8, 2.3, "fails"),
        ("similar", 1.2, 1.7, "inconclusive"),
        ("above", math.nan, math.nan, "inconclusive"),  # no interval: no verdict
        ("above", 2.0, math.inf, "inconclusive"),  # an infinite bound: no verdict
        ("below", -math.inf, 0.5, "inconclusive"),
        ("similar", math.nan, 1.0, "inconclusive"),
    ],
)
def test_verdict_rule(direction, lo, hi, expected):
    assert verdict(direction, lo, hi, threshold=1.0, band=1.5) == expected


def test_agreement_rule():
    assert agreement("holds", "holds") == agreement("fails", "fails") == "holds"
    assert agreement("holds", "fails") == "fails"
    assert agreement("holds", "inconclusive") == "inconclusive"


def _claim(direction="above", min_seeds=3, **kw) -> Claim:
    return Claim("q", "m", "statement", "statistic", direction, per_seed=lambda t: t["q"],
                 min_seeds=min_seeds, band=1.5, **kw)  # fmt: skip


def test_fewer_seeds_than_the_minimum_give_no_verdict_but_the_point_value():
    row = evaluate(_claim(), pd.Series({0: 3.0}), {}, 0.9)
    assert row["verdict"] == "inconclusive" and row["n_seeds"] == 1
    assert row["value"] == pytest.approx(3.0)
    assert row["note"] == "1 seed (min 3): no verdict"
    two = evaluate(_claim(), pd.Series({0: 3.0, 1: 4.0}), {}, 0.9)
    assert two["verdict"] == "inconclusive" and "2 seeds (min 3)" in two["note"]
    assert two["lo"] < two["value"] < two["hi"]  # the interval is still reported
    enough = evaluate(_claim(min_seeds=2), pd.Series({0: 3.0, 1: 4.0}), {}, 0.9)
    assert enough["verdict"] == "holds" and enough["note"] == ""


def test_interval_over_seeds_is_the_geometric_t_interval():
    q = [1.5, 1.2, 1.9]
    row = evaluate(_claim(), pd.Series(dict(enumerate(q))), {}, 0.9)
    logs = np.log(q)
    half = stats.t.ppf(0.95, 2) * logs.std(ddof=1) / math.sqrt(3)
    assert row["value"] == pytest.approx(math.exp(logs.mean()))
    assert (row["lo"], row["hi"]) == pytest.approx(
        (math.exp(logs.mean() - half), math.exp(logs.mean() + half))
    )
    assert row["verdict"] == "holds" and row["per_seed"] == "0:1.5 1:1.2 2:1.9"


def _set(per_model_screen=None, estimates="est"):
    def declare(tables, model):
        return [
            Claim("loss", model, "s", "t", "above", lambda t: t["loss"], min_seeds=3),
            Claim("rhat", model, "s", "t", "below", lambda t: rhat_per_seed(t["est"]),
                  min_seeds=3, estimates=True),
            Agreement("both", model, "s", "loss", "rhat"),
        ]  # fmt: skip

    return ClaimSet(declare, lambda t, m: per_model_screen or {}, estimates)


def rhat_per_seed(est: pd.DataFrame) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        return est.groupby("seed")["R_hat"].apply(lambda r: float(np.exp(np.log(r).mean())))


STEPS = pd.DataFrame(
    {"model": ["m"], "optimizer": ["sgd"], "lr": [0.1], "at_grid_edge": [False],
     "grid_min": [0.01], "grid_max": [1.0]}
)  # fmt: skip


def _est(values, option=None):
    rows = pd.DataFrame({"model": "m", "seed": range(len(values)), "R_hat": values})
    return rows if option is None else rows.assign(probe_step=option)


def test_a_seed_unusable_in_one_claim_is_excluded_from_every_claim_of_the_model():
    tables = {"loss": pd.Series({0: 2.0, 1: 2.1, 2: 1.9, 3: 2.2}),
              "est": _est([0.5, 0.6, 0.55, math.inf])}  # fmt: skip
    table = claims_table(_set(), tables, ["m"], STEPS, 0.9).set_index("claim")
    for claim in ("loss", "rhat"):
        assert table.loc[claim, "n_seeds"] == 3 and table.loc[claim, "excluded"] == "3"
        assert "seed 3 excluded: rhat = inf" in table.loc[claim, "note"]
    assert table.loc["loss", "verdict"] == "holds" and table.loc["rhat", "verdict"] == "holds"
    assert table.loc["loss", "value"] == pytest.approx(math.exp(np.log([2.0, 2.1, 1.9]).mean()))
    assert table.loc["both", "verdict"] == "holds"  # both hold


def test_a_screened_seed_is_named_and_excluded():
    tables = {"loss": pd.Series({0: 2.0, 1: 2.1, 2: 1.9}), "est": _est([0.5, 0.6, 0.55])}
    table = claims_table(_set({2: "diverged"}), tables, ["m"], STEPS, 0.9).set_index("claim")
    assert table.loc["rhat", "note"] == "seed 2 excluded: diverged; 2 seeds (min 3): no verdict"
    assert (table["verdict"] == "inconclusive").all()


@pytest.mark.parametrize("bad", [math.nan, 0.0, -0.5, math.inf])
def test_all_seeds_unusable_give_no_verdict(bad):
    tables = {"loss": pd.Series({0: 2.0, 1: 2.1, 2: 1.9}), "est": _est([bad] * 3)}
    table = claims_table(_set(), tables, ["m"], STEPS, 0.9).set_index("claim")
    assert (table["verdict"] == "inconclusive").all()
    assert (table.loc[["loss", "rhat"], "n_seeds"] == 0).all()


def test_probe_options_give_robustness_columns_or_no_data():
    loss = pd.Series({0: 2.0, 1: 2.1, 2: 1.9})
    raw = _est([0.5, 0.6, 0.55])  # no probe_step column: raw estimates
    table = claims_table(_set(), {"loss": loss, "est": raw}, ["m"], STEPS, 0.9)
    rhat = table.set_index("claim").loc["rhat"]
    assert rhat["verdict"] == "holds"
    assert rhat["verdict_heavy_ball"] == rhat["verdict_radius"] == NO_DATA
    assert table.set_index("claim").loc["loss", "verdict_heavy_ball"] == "n/a"
    both = pd.concat([raw.assign(probe_step="raw"), _est([1.5, 1.7, 1.6], "heavy_ball")])
    table = claims_table(_set(), {"loss": loss, "est": both}, ["m"], STEPS, 0.9)
    rhat = table.set_index("claim").loc["rhat"]
    assert rhat["verdict"] == "holds" and rhat["verdict_heavy_ball"] == "fails"
    assert rhat["value_heavy_ball"] == pytest.approx(math.exp(np.log([1.5, 1.7, 1.6]).mean()))
    assert rhat["verdict_radius"] == NO_DATA
    assert (rhat["n_seeds_heavy_ball"], rhat["n_seeds_radius"]) == (3, 0)
    # the loss claim's verdict holds under every option; R_hat's fails under heavy_ball
    both_row = table.set_index("claim").loc["both"]
    assert both_row["verdict_heavy_ball"] == "fails" and both_row["n_seeds_heavy_ball"] == 3


def test_probe_rows_read_missing_options_as_raw_and_keep_rows_without_estimates():
    table = pd.DataFrame({"R_hat": [1.0, 2.0, np.nan, 3.0],
                          "probe_step": [np.nan, "heavy_ball", np.nan, "raw"]})  # fmt: skip
    assert probe_rows(table, "raw", "R_hat")["R_hat"].tolist()[::2] == [1.0, 3.0]
    assert len(probe_rows(table, "raw", "R_hat")) == 3
    assert probe_rows(table, "heavy_ball", "R_hat")["R_hat"].tolist()[0] == 2.0
    assert len(probe_rows(table, "radius", "R_hat")) == 1  # the row with no estimate


def test_grid_edges_are_flagged_and_a_missing_selection_is_named():
    steps = pd.DataFrame(
        {"model": ["m", "m"], "optimizer": ["sgd", "signsgd"], "lr": [0.1, 1e-4],
         "at_grid_edge": [False, True], "grid_min": [0.01, 1e-4], "grid_max": [1.0, 0.01]}
    )  # fmt: skip
    assert grid_edges(steps, "m", ["sgd"]) == ""
    assert grid_edges(steps, "m", ["sgd", "signsgd"]) == "signsgd lr 0.0001 (grid 0.0001-0.01)"
    with pytest.raises(ValueError, match="no selection of m adam"):
        grid_edges(steps, "m", ["adam"])


def test_empty_or_header_only_input_is_a_named_error(tmp_path):
    header = tmp_path / "metrics.csv"
    header.write_text("model,optimizer,seed,epoch,train_loss\n")
    with pytest.raises(ValueError, match=r"metrics\.csv: no rows.*metrics table"):
        read_input(header, "metrics")
    empty = tmp_path / "smoothness.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="smoothness.csv"):
        read_input(empty, "smoothness")
    with pytest.raises(ValueError, match="no claim"):
        claims_table(ClaimSet(lambda t, m: [], lambda t, m: {}, "est"), {"est": _est([])},
                     ["m"], STEPS, 0.9)  # fmt: skip


def test_tail_epochs():
    assert tail_epochs(20, 0.2) == range(17, 21)  # the last 4 of 20 epochs
    assert tail_epochs(10, 0.2) == range(9, 11)
    assert tail_epochs(5, 0.2) == range(5, 6)  # at least one epoch
    assert tail_epochs(3, 0.2) == range(3, 4)


def test_tail_loss_ratio_closed_form_and_one_noisy_epoch():
    """Exponential decays L(e) = a exp(-b e): the mean log loss over epochs 17..20 is
    log a - b x 18.5, so the ratio is (a1/a2) exp(-(b1 - b2) 18.5); a spike of x s at the last
    epoch moves it by s^(1/4) only, where the last epoch's ratio moves by s."""
    e = np.arange(21)
    curves = pd.DataFrame({"behind": 2.0 * np.exp(-0.05 * e), "ahead": 1.5 * np.exp(-0.1 * e)},
                          index=e)  # fmt: skip
    expected = (2.0 / 1.5) * math.exp((0.1 - 0.05) * 18.5)
    assert tail_loss_ratio(curves, "behind", "ahead", 0.2) == pytest.approx(expected, rel=1e-12)
    spiked = curves.copy()
    spiked.loc[20, "ahead"] *= 3.0
    ratio = tail_loss_ratio(spiked, "behind", "ahead", 0.2)
    assert ratio == pytest.approx(expected / 3.0 ** (1 / 4), rel=1e-12)
    assert tail_log_loss(curves, 0.2)["ahead"] == pytest.approx(math.log(1.5) - 0.1 * 18.5)
    shorter = curves.copy()
    shorter.loc[[19, 20], "ahead"] = np.nan  # the last epoch both reached is 18: epochs 15..18
    expected18 = (2.0 / 1.5) * math.exp(0.05 * 16.5)
    assert tail_loss_ratio(shorter, "behind", "ahead", 0.2) == pytest.approx(expected18)
    assert not math.isfinite(
        tail_loss_ratio(curves.assign(ahead=curves["ahead"].where(e != 18, 0.0)),
                        "behind", "ahead", 0.2)
    )  # fmt: skip
    negative = curves.assign(behind=curves["behind"].where(e != 19, -1.0))
    assert math.isnan(tail_loss_ratio(negative, "behind", "ahead", 0.2))
    assert math.isnan(tail_log_loss(negative, 0.2)["behind"])


def test_pooled_geomean_counts_the_shared_start_once():
    est = pd.DataFrame({"sgd": [4.0, 2.0, 8.0], "signsgd": [1.0, 0.5, 8.0]}, index=[0, 4, 20])
    # epoch 0 once: sqrt(4 x 1) = 2; then 2, 0.5 (epoch 4) and 8, 8 (epoch 20)
    assert pooled_geomean(est) == pytest.approx((2 * 2 * 0.5 * 8 * 8) ** (1 / 5))
    assert pooled_geomean(est, last_epoch=5) == pytest.approx((2 * 2 * 0.5) ** (1 / 3))
    assert math.isnan(pooled_geomean(est, last_epoch=3))  # nothing after the start
    est.loc[4, "signsgd"] = -0.5
    assert math.isnan(pooled_geomean(est))  # a negative estimate is not left out


def test_trajectory_ratio_leaves_out_the_shared_start():
    est = pd.DataFrame({"sgd": [1.0, 2.0, 1.0], "signsgd": [1.0, 4.0, 0.5]}, index=[0, 4, 8])
    assert trajectory_ratio(est, "signsgd", "sgd") == pytest.approx(math.sqrt(2 * 0.5))
    est.loc[8, "signsgd"] = -1.0  # a negative estimate is no ratio
    assert math.isnan(trajectory_ratio(est, "signsgd", "sgd"))
