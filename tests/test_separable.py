"""Proposition 5: L_sep by SDP against closed forms (2-D, diagonal), the bound chain
L_2 <= L_inf <= L_sep <= prop3_bound on random PSD matrices, and the chain check's errors."""

import numpy as np
import pandas as pd
import pytest

from figure_checks import assert_bounds_draw, assert_image_files
from signgeom.norms import inf_to_one_norm, lambda_max, prop3_bound
from signgeom.plotting.bounds import draw_bounds
from signgeom.plotting.bounds import main as bounds_main
from signgeom.quadratic.constants import smoothness_constants
from signgeom.quadratic.hessians import build_grid
from signgeom.quadratic.separable import (
    BoundChainError,
    SeparableSolver,
    check_chain,
    dual_lower_bound,
    separable_table,
)
from signgeom.quadratic.two_d import hessian_2d, separable_bound_2d

TOL = 1e-6


@pytest.fixture(scope="module")
def solver2():
    return SeparableSolver(2, tol=TOL, batch=4)


def test_two_d_matches_eq_34(solver2):
    hs = np.array([hessian_2d(lam, 1.0, np.deg2rad(deg)) for lam in (2, 7) for deg in (0, 20, 45)])
    diag, lower = solver2.solve(hs)  # 6 matrices: one full batch and one padded one
    for h, l_sdp, lo in zip(hs, diag, lower, strict=True):
        np.testing.assert_allclose(l_sdp, separable_bound_2d(h), rtol=1e-5, atol=1e-6)
        assert lo * (1 - 1e-12) <= l_sdp.sum() <= lo * (1 + TOL)
        assert np.linalg.eigvalsh(np.diag(l_sdp) - h)[0] >= -1e-12  # exactly feasible


@pytest.mark.parametrize("solver", ["clarabel", "scs"])
def test_diagonal_matrices_give_the_trace(solver):
    rng = np.random.default_rng(0)
    hs = np.array([np.diag(rng.uniform(0.1, 5.0, 6)) for _ in range(3)])
    diag, lower = SeparableSolver(6, solver, tol=TOL, batch=2).solve(hs)
    traces = np.trace(hs, axis1=1, axis2=2)
    np.testing.assert_allclose(diag.sum(axis=1), traces, rtol=TOL)
    np.testing.assert_allclose(lower, traces, rtol=TOL)


def random_psd(rng, d, rank):
    a = rng.standard_normal((d, rank)) * rng.uniform(0.2, 3.0, rank)
    return a @ a.T


def test_chain_on_random_psd_matrices():
    rng = np.random.default_rng(1)
    d = 7
    hs = np.array([random_psd(rng, d, rank) for rank in (1, 2, 3, 7) for _ in range(3)])
    diag, lower = SeparableSolver(d, tol=TOL, batch=5).solve(hs)
    lsep = diag.sum(axis=1)
    linf = inf_to_one_norm(hs)
    assert np.all(lambda_max(hs) <= linf)
    assert np.all(linf <= lsep * (1 + 1e-12))  # lsep is certified feasible: no tolerance
    assert np.all(lower <= prop3_bound(hs) * (1 + TOL))
    assert np.all(lsep <= np.pi / 2 * linf)  # Nesterov: the SDP relaxation is within pi/2
    assert np.all(lsep - lower <= TOL * lsep)
    assert np.any(lsep > linf * 1.001)  # the bound is not always tight in d > 2


def test_dual_lower_bound_of_a_non_psd_guess_is_still_a_bound():
    rng = np.random.default_rng(2)
    h = random_psd(rng, 5, 5)
    z = rng.standard_normal((5, 5))
    lsep = SeparableSolver(5, tol=TOL, batch=1).solve(h[None])[0].sum()
    assert dual_lower_bound(h, z + z.T) <= lsep


@pytest.fixture(scope="module")
def grid_table():
    grid = build_grid(6, np.linspace(0, 0.5, 3), np.array([1.0, 2.0, 4.0]), 2, 3, "power_law")
    constants = smoothness_constants(grid, max_exact_dim=20)
    return separable_table(grid, constants, "clarabel", TOL)


def test_grid_table_and_paper_family_identity(grid_table):
    check_chain(grid_table, TOL)
    assert len(grid_table) == 18
    assert (grid_table["prop3_over_lsep"] >= 1 - TOL).all()
    # The paper's family: H = I + (lambda_max - 1) v v^T, L_inf = L_sep = prop3_bound.
    grid = build_grid(6, np.array([0.3]), np.array([3.0]), 2, 5, "one_outlier")
    table = separable_table(grid, smoothness_constants(grid, 20), "clarabel", TOL)
    np.testing.assert_allclose(table["lsep_over_linf"], 1.0, rtol=TOL)
    np.testing.assert_allclose(table["prop3_over_linf"], 1.0, rtol=1e-12)


def test_violations_are_named(grid_table):
    bad = grid_table.copy()
    bad.loc[4, "prop3_bound"] = 0.9 * bad.loc[4, "Lsep"]
    row = bad.loc[4]
    with pytest.raises(BoundChainError, match="Lsep <= prop3_bound fails at theta = ") as err:
        check_chain(bad, TOL)
    assert f"lambda_ratio = {row['lambda_ratio']:g}, rotation {int(row['rotation'])}" in str(
        err.value
    )


def test_mismatched_constants_are_refused(grid_table):
    grid = build_grid(6, np.linspace(0, 0.5, 3), np.array([1.0, 2.0, 4.0]), 2, 3, "power_law")
    constants = pd.DataFrame(grid_table).iloc[::-1]
    with pytest.raises(ValueError, match="does not match the Hessian grid"):
        separable_table(grid, constants, "clarabel", TOL)


def test_bounds_figure_draws_the_cell_means_and_refuses_a_bad_table(grid_table, tmp_path):
    assert_bounds_draw(grid_table, "power_law")
    table = tmp_path / "separable.csv"
    grid_table.to_csv(table, index=False)
    out = [tmp_path / "bounds.png", tmp_path / "bounds.pdf"]
    bounds_main(["--separable", str(table), "--family", "power_law", "--out", *map(str, out)])
    assert_image_files(out)
    with pytest.raises(ValueError, match="lacks the columns"):
        draw_bounds(grid_table.drop(columns="lsep_over_linf"), "power_law")
