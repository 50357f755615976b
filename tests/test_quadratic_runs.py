"""GD and signGD on quadratics: step formulas, closed forms, the infinite ratio."""

import numpy as np
import pandas as pd
import pytest

from signgeom.quadratic.constants import smoothness_constants
from signgeom.quadratic.hessians import build_grid
from signgeom.quadratic.runs import (
    final_distances,
    gd_step,
    run_grid,
    signgd_step,
    starting_points,
)
from signgeom.quadratic.summary import (
    AGGREGATES,
    aggregate_ratio,
    bootstrap_weights,
    percentile_interval,
    safe_ratio,
    summarise,
    weighted_aggregate,
)


def max_norm_model(g, lipschitz, x, y):
    """Upper model of f around x w.r.t. the max-norm: <g, y-x> + L/2 ||y-x||_inf^2."""
    return g @ (y - x) + 0.5 * lipschitz * np.max(np.abs(y - x)) ** 2


def test_signgd_step_is_steepest_descent_for_the_max_norm():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 5))
    h = a @ a.T
    x = rng.standard_normal(5)
    g = h @ x
    linf = 7.5
    step = signgd_step(h[None], x[None, None], np.array([linf]))[0, 0]
    np.testing.assert_allclose(step, x - np.abs(g).sum() / linf * np.sign(g))
    # It minimises the max-norm model: value -||g||_1^2 / (2 L), no random point does better.
    best = max_norm_model(g, linf, x, step)
    assert best == pytest.approx(-(np.abs(g).sum() ** 2) / (2 * linf))
    trials = x + rng.standard_normal((20_000, 5)) * rng.uniform(0, 1, (20_000, 1))
    assert min(max_norm_model(g, linf, x, y) for y in trials) >= best - 1e-12


def test_gd_on_identity_converges_in_one_step():
    x0 = np.random.default_rng(1).standard_normal((1, 8, 4))
    x1 = gd_step(np.eye(4)[None], x0, np.array([1.0]))
    assert np.all(x1 == 0.0)


def test_gd_iterates_match_the_closed_form():
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    lam = np.array([1.0, 1.0, 2.0, 3.0, 5.0, 9.0])
    h = (q * lam) @ q.T
    x0 = rng.standard_normal((3, 6))
    d_gd, _ = final_distances(h[None], x0, np.array([9.0]), np.array([20.0]), steps=7)
    # x_T = Q diag((1 - lambda/L)^T) Q^T x0
    x_t = (q * (1 - lam / 9.0) ** 7) @ q.T @ x0.T
    np.testing.assert_allclose(d_gd[0], np.linalg.norm(x_t, axis=0), rtol=1e-12)


def test_safe_ratio_handles_exact_zeros():
    np.testing.assert_array_equal(safe_ratio([1.0, 0.0, 2.0], [0.0, 0.0, 4.0]), [np.inf, 1.0, 0.5])


@pytest.mark.parametrize(
    "how, expected", [("ratio_of_means", 6 / 3), ("median", 2.0), ("geometric_mean", 2.0)]
)
def test_aggregations(how, expected):
    sign, gd = np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.0, 1.5])
    assert aggregate_ratio(sign, gd, how) == pytest.approx(expected)


def test_unknown_aggregation_names_the_key():
    with pytest.raises(ValueError, match="quadratic.aggregate"):
        aggregate_ratio(np.ones(2), np.ones(2), "mode")


@pytest.fixture(scope="module")
def small_chain():
    grid = build_grid(4, np.array([0.0, 0.3]), np.array([1.0, 3.0]), rotations=2, seed=0)
    constants = smoothness_constants(grid, max_exact_dim=20)
    runs = run_grid(grid, constants, starts=5, steps=30, seed=0)
    return grid, constants, runs


def test_identity_cells_give_an_explicit_infinite_ratio(small_chain):
    _, constants, runs = small_chain
    table = summarise(constants, runs, "ratio_of_means")
    identity = table[table["lambda_ratio"] == 1.0]
    assert np.all(np.isinf(identity["dist_ratio"]))
    assert np.all(identity["gd_exact_fraction"] == 1.0)
    other = table[table["lambda_ratio"] == 3.0]
    assert np.all(np.isfinite(other["dist_ratio"])) and np.all(other["gd_exact_fraction"] == 0)
    assert not table.isna().any().any()


def test_run_table_has_one_row_per_hessian_and_start(small_chain):
    grid, constants, runs = small_chain
    assert len(runs) == grid.hessians.shape[0] * grid.hessians.shape[1] * 2 * 5
    assert {"theta", "lambda_ratio", "rotation", "start", "dist_gd", "dist_sign"} <= set(runs)


def test_mismatched_constants_are_refused(small_chain):
    grid, constants, _ = small_chain
    with pytest.raises(ValueError, match="different configs"):
        run_grid(grid, constants.iloc[:-1], starts=2, steps=1, seed=0)


def test_nan_input_is_refused_not_plotted(small_chain):
    _, constants, runs = small_chain
    broken = runs.copy()
    broken.loc[3, "dist_sign"] = np.nan
    with pytest.raises(ValueError, match="NaN in columns \\['dist_sign'\\]"):
        summarise(constants, broken, "ratio_of_means")


def test_summary_columns(small_chain):
    _, constants, runs = small_chain
    table = summarise(constants, runs, "median")
    required = {
        "theta",
        "lambda_ratio",
        "lambda_max",
        "L2",
        "Linf",
        "linf_over_l2",
        "prop3_bound",
        "dist_ratio",
    }
    assert required <= set(table.columns)
    assert len(table) == 4
    assert isinstance(table, pd.DataFrame)


def test_independent_starts_differ_per_rotation_and_are_prefix_stable():
    ind = starting_points(6, 3, seed=0, rotations=4, mode="independent")
    shared = starting_points(6, 3, seed=0, rotations=4, mode="shared")
    assert ind.shape == shared.shape == (4, 6, 3)
    assert len({tuple(x) for x in ind.reshape(-1, 3)}) == 24  # all distinct
    assert np.all(shared == shared[0])  # every rotation reuses the same starts
    more = starting_points(10, 3, seed=0, rotations=5, mode="independent")
    np.testing.assert_array_equal(more[:4, :6], ind)  # raising counts keeps the earlier draws
    with pytest.raises(ValueError, match="quadratic.starts_per_rotation"):
        starting_points(2, 3, seed=0, mode="fresh")


@pytest.mark.parametrize("mode, distinct", [("independent", 2 * 5), ("shared", 5)])
def test_runs_use_the_start_of_their_rotation_in_every_cell(mode, distinct):
    grid = build_grid(4, np.array([0.0, 0.3]), np.array([2.0, 3.0]), rotations=2, seed=0)
    constants = smoothness_constants(grid, max_exact_dim=20)
    runs = run_grid(grid, constants, starts=5, steps=3, seed=1, starts_per_rotation=mode)
    x0 = starting_points(5, 4, seed=1, rotations=2, mode=mode)
    for row in runs.sample(6, random_state=0).itertuples():
        h = grid.hessians[row.theta_index, row.ratio_index, row.rotation]
        c = constants.set_index(["theta_index", "ratio_index", "rotation"]).loc[
            (row.theta_index, row.ratio_index, row.rotation)
        ]
        x = x0[row.rotation, row.start][None, None]
        d_gd, d_sign = final_distances(h[None], x, np.array([c.L2]), np.array([c.Linf]), 3)
        assert row.dist_gd == pytest.approx(d_gd[0, 0], rel=1e-12)
        assert row.dist_sign == pytest.approx(d_sign[0, 0], rel=1e-12)
    # theta = 0: every rotation gives the same Hessian, so only the starts make runs distinct.
    cell = runs[(runs.theta_index == 0) & (runs.ratio_index == 1)]
    assert cell["dist_gd"].round(12).nunique() == distinct


def test_bootstrap_weights_resample_rotations_then_starts():
    w = bootstrap_weights(4, 6, 500, np.random.default_rng(0)).reshape(500, 4, 6)
    assert np.all(w.sum(axis=(1, 2)) == 24)
    per_rotation = w.sum(axis=2)
    assert np.all(per_rotation % 6 == 0)  # a rotation is drawn whole: c times S starts
    assert (per_rotation == 0).any() and (per_rotation >= 12).any()
    assert np.allclose(w.mean(axis=0), 1.0, atol=0.2)  # each run once on average


@pytest.mark.parametrize("how", AGGREGATES)
def test_weighted_aggregate_equals_aggregate_of_repeated_runs(how):
    rng = np.random.default_rng(1)
    sign = rng.uniform(0.1, 2.0, (12, 3))
    gd = rng.uniform(0.1, 2.0, (12, 3))
    gd[:, 2] = 0.0  # an identity-Hessian cell: GD exact, ratio inf
    weights = bootstrap_weights(3, 4, 20, rng)
    out = weighted_aggregate(sign, gd, weights, how)
    for b in range(20):
        for c in range(3):
            rep = np.repeat(np.arange(12), weights[b])
            expected = aggregate_ratio(sign[rep, c], gd[rep, c], how)
            assert out[b, c] == pytest.approx(expected, rel=1e-12)
    assert np.all(np.isinf(out[:, 2]))


def test_percentile_interval_and_constant_cells():
    lo, hi = percentile_interval(np.arange(1.0, 101.0)[:, None], 0.9)
    assert (lo[0], hi[0]) == (5.0, 95.0)
    with pytest.raises(ValueError, match="quadratic.bootstrap.level"):
        percentile_interval(np.ones((3, 1)), 1.5)


def test_summary_interval_brackets_the_estimate_and_is_reproducible(small_chain):
    _, constants, runs = small_chain
    table = summarise(constants, runs, "ratio_of_means", resamples=200, level=0.9, seed=3)
    again = summarise(constants, runs, "ratio_of_means", resamples=200, level=0.9, seed=3)
    pd.testing.assert_frame_equal(table, again)
    finite = table[np.isfinite(table["dist_ratio"])]
    assert np.all(finite["dist_ratio_lo"] <= finite["dist_ratio"])
    assert np.all(finite["dist_ratio"] <= finite["dist_ratio_hi"])
    assert np.all(finite["dist_ratio_lo"] < finite["dist_ratio_hi"])
    identity = table[table["lambda_ratio"] == 1.0]
    assert np.all(np.isinf(identity[["dist_ratio_lo", "dist_ratio_hi"]]))
    assert np.all(table["ci_level"] == 0.9)


def test_incomplete_runs_are_refused(small_chain):
    _, constants, runs = small_chain
    with pytest.raises(ValueError, match="2 rotations x 5 starts"):
        summarise(constants, runs.drop(index=7), "ratio_of_means")
