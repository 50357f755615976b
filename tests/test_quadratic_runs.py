"""GD and signGD on quadratics: step formulas, closed forms, the infinite ratio."""

import numpy as np
import pandas as pd
import pytest

from signgeom.quadratic.constants import smoothness_constants
from signgeom.quadratic.hessians import build_grid
from signgeom.quadratic.runs import final_distances, gd_step, run_grid, signgd_step
from signgeom.quadratic.summary import aggregate_ratio, safe_ratio, summarise


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
