"""Rotated Hessians: spectrum, fractional rotations, the theta = 0 closed form."""

import numpy as np
import pytest

from signgeom.norms import inf_to_one_norm
from signgeom.quadratic.constants import smoothness_constants
from signgeom.quadratic.hessians import (
    SPECTRUM_FAMILIES,
    HessianGrid,
    build_grid,
    check_spectra,
    family_spectrum,
    fractional_rotation,
    haar_rotation,
    hessian_for_cell,
    lambda_max_for_ratio,
    rotated_hessian,
)

D = 12


@pytest.fixture(scope="module")
def grid():
    return build_grid(D, np.linspace(0, 0.5, 6), np.linspace(1, 10, 5), rotations=3, seed=7)


def test_haar_rotation_is_a_seeded_rotation():
    r = haar_rotation(D, 3)
    np.testing.assert_allclose(r @ r.T, np.eye(D), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_array_equal(r, haar_rotation(D, 3))
    assert not np.allclose(r, haar_rotation(D, 4))


@pytest.mark.parametrize("theta", [0.1, 0.25, 0.5, 0.9])
def test_fractional_rotation_is_orthogonal_and_composes(theta):
    r = haar_rotation(D, 11)
    p = fractional_rotation(r, theta)
    np.testing.assert_allclose(p @ p.T, np.eye(D), atol=1e-12)
    assert np.linalg.det(p) == pytest.approx(1.0)
    # R^theta R^(1-theta) = R (powers of one rotation commute and add).
    np.testing.assert_allclose(p @ fractional_rotation(r, 1 - theta), r, atol=1e-12)


def test_fractional_rotation_endpoints():
    r = haar_rotation(D, 5)
    np.testing.assert_array_equal(fractional_rotation(r, 0.0), np.eye(D))
    np.testing.assert_allclose(fractional_rotation(r, 1.0), r, atol=1e-12)


def test_lambda_max_for_ratio_inverts_the_mean():
    ratios = np.array([1.0, 2.5, 10.0])
    lam = lambda_max_for_ratio(ratios, D)
    lam_bar = (D - 1 + lam) / D
    np.testing.assert_allclose(lam / lam_bar, ratios)
    with pytest.raises(ValueError, match=r"\[1, d\)"):
        lambda_max_for_ratio(12.0, D)


def test_grid_hessians_are_symmetric_psd_with_the_prescribed_spectrum(grid):
    check_spectra(grid)  # raises otherwise
    eig = np.linalg.eigvalsh(grid.hessians[3, 4, 1])
    np.testing.assert_allclose(eig, [1.0] * (D - 1) + [grid.lambda_max[4]], rtol=1e-12)


def test_check_spectra_catches_a_wrong_spectrum(grid):
    bad = grid.hessians.copy()
    bad[2, 2, 0] *= 1.01
    with pytest.raises(ValueError, match="spectrum"):
        check_spectra(
            HessianGrid(grid.thetas, grid.ratios, grid.eigenvalues, grid.rotation_seeds, bad)
        )


def test_theta_zero_gives_d_over_ratio_exactly(grid):
    table = smoothness_constants(grid, max_exact_dim=20)
    at_zero = table[table["theta"] == 0.0]
    np.testing.assert_allclose(at_zero["linf_over_l2"], D / at_zero["lambda_ratio"], rtol=1e-14)


def test_linf_over_l2_grows_away_from_axis_alignment(grid):
    # For lambda_max >> 1 the big eigenvector rotates off the axes, L_inf/L_2 grows with theta.
    table = smoothness_constants(grid, max_exact_dim=20)
    top = table[table["lambda_ratio"] == 10.0].groupby("theta")["linf_over_l2"].mean()
    assert top.iloc[-1] > 2 * top.iloc[0]


def test_unknown_family_is_named():
    with pytest.raises(ValueError, match="quadratic.families: unknown spectrum family 'flat'"):
        build_grid(D, np.array([0.0]), np.array([2.0]), rotations=1, seed=0, family="flat")


def test_scalar_spectrum_gives_exact_identity():
    q = fractional_rotation(haar_rotation(D, 2), 0.37)
    np.testing.assert_array_equal(rotated_hessian(q, np.ones(D)), np.eye(D))


def test_any_cell_is_recomputable_from_its_coordinates(grid, tmp_path):
    path = tmp_path / "h.npz"
    grid.save(path)
    loaded = HessianGrid.load(path)
    i, j, k = 4, 2, 1
    h = hessian_for_cell(loaded.thetas[i], loaded.ratios[j], D, int(loaded.rotation_seeds[k]))
    np.testing.assert_array_equal(h, loaded.hessians[i, j, k])
    assert inf_to_one_norm(h) > 0


def test_corrupted_grid_file_is_reported(tmp_path):
    path = tmp_path / "h.npz"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="not a valid Hessian grid file"):
        HessianGrid.load(path)


# Spectrum families: max/mean = ratio exactly over each family's feasible range, clear errors
# outside it. Upper end of the range at d = 12: (value, attained?).
FEASIBLE_MAX = {
    "one_outlier": (12.0, False),
    "power_law": (12.0, False),
    "two_outliers": (6.0, True),
    "three_outliers": (4.0, True),
    "bulk_outliers": (6.0, True),
}


def test_every_registered_family_is_covered():
    assert set(SPECTRUM_FAMILIES) == set(FEASIBLE_MAX)


@pytest.mark.parametrize("family", sorted(FEASIBLE_MAX))
def test_family_has_the_prescribed_max_over_mean(family):
    top, attained = FEASIBLE_MAX[family]
    ratios = [1.0, 1.5, 2.0, 3.0, 3.9, top if attained else top * (1 - 1e-6)]
    for ratio in ratios:
        eig = family_spectrum(family, ratio, D)
        assert eig.shape == (D,) and np.all(np.diff(eig) >= 0) and eig[0] >= 0
        assert eig.max() / eig.mean() == pytest.approx(ratio, rel=1e-12)
    np.testing.assert_array_equal(family_spectrum(family, 1.0, D), np.ones(D))
    beyond = top * (1 + 1e-9) if attained else top
    with pytest.raises(ValueError, match=rf"spectrum family '{family}'.*feasible range is \[1, "):
        family_spectrum(family, beyond, D)
    with pytest.raises(ValueError, match="infeasible"):
        family_spectrum(family, 0.9, D)


def test_k_outlier_limit_is_a_rank_k_spectrum():
    np.testing.assert_array_equal(family_spectrum("three_outliers", 4.0, D), [0.0] * 9 + [1.0] * 3)


def test_families_give_different_hessians_with_the_same_rotations():
    thetas, ratios = np.array([0.0, 0.4]), np.array([1.0, 3.0])
    grids = {f: build_grid(D, thetas, ratios, 2, 7, f) for f in ("one_outlier", "power_law")}
    a, b = grids["one_outlier"], grids["power_law"]
    np.testing.assert_array_equal(a.rotation_seeds, b.rotation_seeds)
    np.testing.assert_array_equal(a.hessians[:, 0], b.hessians[:, 0])  # ratio 1: both identity
    assert not np.allclose(a.hessians[:, 1], b.hessians[:, 1])
    check_spectra(b)
