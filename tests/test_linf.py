"""Exact max_s s^T H s beyond enumeration: structure paths, bounds and the branch and bound
against brute force and the project's enumeration."""

import numpy as np
import pandas as pd
import pytest

from signgeom.linf import max_quadratic_form
from signgeom.linf.bound import eigenvalue_bound, optimise_bound
from signgeom.linf.branch_and_bound import branch_and_bound
from signgeom.linf.enumeration import enumerate_max
from signgeom.linf.local_search import one_flip
from signgeom.linf.structure import identity_plus_rank_k, max_zonotope_norm
from signgeom.norms import psd_inf_to_one_norm, sign_vectors
from signgeom.quadratic.constants import exact_linf, smoothness_constants
from signgeom.quadratic.hessians import (
    IDENTITY_PLUS_RANK,
    build_grid,
    hessian_for_cell,
    identity_plus_rank_structure,
)
from signgeom.workflow import REPO


def brute_force(m: np.ndarray) -> float:
    s = sign_vectors(m.shape[0])
    return float(((m @ s) * s).sum(axis=0).max())


def random_psd(rng, d, rank=None):
    a = rng.standard_normal((d, rank or d))
    return a @ a.T


def assert_consistent(result, h):
    """The certificate's invariants: the value is the maximiser's, upper bounds it."""
    s = result.maximiser
    assert set(np.unique(s)) <= {-1.0, 1.0} and s.shape == (h.shape[0],)
    assert result.value == pytest.approx(float(s @ h @ s), rel=1e-12)
    assert result.upper >= result.value - 1e-12 * abs(result.value)


@pytest.mark.parametrize("d", [1, 2, 3, 7, 13, 14])
def test_enumeration_matches_brute_force_with_its_maximiser(d):
    rng = np.random.default_rng(d)
    m = rng.standard_normal((d, d))
    m = m + m.T  # symmetric, indefinite
    value, s = enumerate_max(m)
    assert value == pytest.approx(brute_force(m), rel=1e-12, abs=1e-12)
    assert float(s @ m @ s) == pytest.approx(value, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("kind", ["generic", "repeated_and_zero_rows", "integer"])
def test_zonotope_maximum_matches_brute_force(k, kind):
    rng = np.random.default_rng(10 * k + len(kind))
    d = 11
    s_all = sign_vectors(d)
    for _ in range(5):
        v = rng.standard_normal((d, k))
        if kind == "repeated_and_zero_rows":  # hyperplanes that coincide; a vanishing row
            v[3], v[8], v[6] = v[5], -2.0 * v[5], 0.0
        elif kind == "integer":  # many rows orthogonal to one ray
            v = np.round(2 * v)
        value, s = max_zonotope_norm(v)
        expected = float(((v.T @ s_all) ** 2).sum(axis=0).max())
        assert value == pytest.approx(expected, rel=1e-12)
        assert float(np.sum((v.T @ s) ** 2)) == pytest.approx(value, rel=1e-12)


def test_one_outlier_closed_form_at_large_d():
    # H = I + (lambda_max - 1) q q^T: L_inf = d + (lambda_max - 1) ||q||_1^2 at s = sign(q).
    d, ratio = 150, 40.0
    h = hessian_for_cell(0.7, ratio, d, rotation_seed=5, family="one_outlier")
    eig = np.linalg.eigh(h)
    lam = eig.eigenvalues[-1]
    q = eig.eigenvectors[:, -1]
    c, top = identity_plus_rank_structure("one_outlier", eig.eigenvalues)
    result = max_quadratic_form(h, structure=(c, top))
    assert result.value == pytest.approx(d + (lam - 1) * np.abs(q).sum() ** 2, rel=1e-10)
    np.testing.assert_array_equal(np.abs(result.maximiser @ np.sign(q)), d)
    assert result.certified and result.method == "identity_plus_rank_1"


@pytest.mark.parametrize("family", sorted(IDENTITY_PLUS_RANK))
@pytest.mark.parametrize("d", [8, 16])
def test_family_structure_matches_enumeration(family, d):
    for seed, (theta, ratio) in enumerate([(0.2, 1.5), (1.0, 2.5), (0.6, d / 3 - 0.1)]):
        h = hessian_for_cell(theta, ratio, d, rotation_seed=seed, family=family)
        structure = identity_plus_rank_structure(family, np.linalg.eigvalsh(h))
        result = identity_plus_rank_k(h, *structure)
        assert_consistent(result, h)
        assert result.value == pytest.approx(float(psd_inf_to_one_norm(h)), rel=1e-12)
        if d <= 16:
            assert result.value == pytest.approx(brute_force(h), rel=1e-12)


def test_structure_is_read_from_the_family_only():
    eig = np.array([0.5, 0.5, 0.5, 1.0, 1.0])
    assert identity_plus_rank_structure("power_law", eig) is None
    c, top = identity_plus_rank_structure("two_outliers", eig)
    assert c == 0.5 and list(top) == [1.0, 1.0]


@pytest.mark.parametrize("d", [4, 9, 12])
def test_eigenvalue_bound_is_valid_for_any_u(d):
    rng = np.random.default_rng(d)
    m = rng.standard_normal((d, d))
    m = m + m.T
    best = brute_force(m)
    for _ in range(20):
        u = rng.standard_normal(d) * rng.choice([0.1, 1.0, 10.0])
        assert eigenvalue_bound(m, u)[0] >= best
    bound, u, _ = optimise_bound(m)
    assert bound >= best
    assert bound <= eigenvalue_bound(m, -np.diag(m))[0] + 1e-9  # optimising does not loosen it


@pytest.mark.parametrize("d", [10, 16, 20])
@pytest.mark.parametrize("rank", [None, 3])
def test_branch_and_bound_proves_the_enumerated_maximum(d, rank):
    rng = np.random.default_rng(100 + d + (rank or 0))
    h = random_psd(rng, d, rank)
    # a small leaf forces real branching at these sizes
    result = branch_and_bound(h, leaf_size=7)
    expected = float(psd_inf_to_one_norm(h))
    assert_consistent(result, h)
    assert result.certified and result.nodes > 1
    assert result.value == pytest.approx(expected, rel=1e-12)
    assert result.upper >= expected - result.tolerance
    if d <= 16:
        assert result.value == pytest.approx(brute_force(h), rel=1e-12)


def test_indefinite_symmetric_matrix_is_solved_too():
    rng = np.random.default_rng(3)
    m = rng.standard_normal((14, 14))
    m = m + m.T
    result = branch_and_bound(m, leaf_size=4)
    assert result.certified
    assert result.value == pytest.approx(brute_force(m), rel=1e-12)


def test_node_limit_returns_a_valid_interval():
    h = random_psd(np.random.default_rng(5), 22)
    result = branch_and_bound(h, leaf_size=3, node_limit=2)
    expected = float(psd_inf_to_one_norm(h))
    assert_consistent(result, h)
    assert result.nodes == 2
    assert result.value <= expected * (1 + 1e-12)
    assert result.upper >= expected * (1 - 1e-12)


def test_dispatch_enumerates_small_d_and_refuses_asymmetric_input():
    h = random_psd(np.random.default_rng(8), 12)
    result = max_quadratic_form(h)
    assert result.method == "enumeration" and result.certified
    assert result.value == pytest.approx(brute_force(h), rel=1e-12)
    bad = h.copy()
    bad[0, 1] += 1e-3
    with pytest.raises(ValueError, match="exactly symmetric"):
        max_quadratic_form(bad)


def test_one_flip_returns_a_local_maximum():
    h = random_psd(np.random.default_rng(2), 15)
    q, s = one_flip(h, np.ones(15))
    assert q == pytest.approx(float(s @ h @ s))
    for i in range(15):
        t = s.copy()
        t[i] = -t[i]
        assert float(t @ h @ t) <= q + 1e-9


def test_constants_take_the_structure_path_for_outlier_families():
    thetas, ratios = np.array([0.0, 0.4, 1.0]), np.array([1.0, 2.0, 3.5])
    grid = build_grid(10, thetas, ratios, rotations=2, seed=4, family="two_outliers")
    np.testing.assert_allclose(
        exact_linf(grid, 10, "two_outliers"), exact_linf(grid, 10), rtol=1e-12
    )
    table = smoothness_constants(grid, 10, "two_outliers")
    assert np.all(table["Linf"] >= table["L2"] * (1 - 1e-12))
    with pytest.raises(ValueError, match="unknown spectrum family 'flat'"):
        exact_linf(grid, 10, "flat")


def test_constants_certify_by_branch_and_bound_above_the_enumeration_limit():
    grid = build_grid(11, np.array([0.2, 1.0]), np.array([1.5, 4.0]), 2, seed=6, family="power_law")
    np.testing.assert_allclose(exact_linf(grid, 6, "power_law"), exact_linf(grid, 11), rtol=1e-9)


@pytest.mark.parametrize("name, rows", [("d100", [17, 200, 329]), ("d40-power_law", [9, 44, 59])])
def test_large_d_reference_rows_recompute(name, rows):
    table = pd.read_csv(REPO / "results/reference/large-d" / name / "constants.csv")
    d, family = (100, "one_outlier") if name == "d100" else (40, "power_law")
    for n in rows:
        row = table.iloc[n]
        h = hessian_for_cell(row.theta, row.lambda_ratio, d, int(row.rotation_seed), family)
        if family == "one_outlier":  # closed form from H's own top eigenpair
            w, v = np.linalg.eigh(h)
            expected = d + (w[-1] - 1) * np.abs(v[:, -1]).sum() ** 2
        else:
            result = branch_and_bound(h)
            assert result.certified
            expected = result.value
        assert row.Linf == pytest.approx(expected, rel=1e-9)
