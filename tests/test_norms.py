"""||H||_inf,1, rho_diag and the Prop. 3 bound against closed forms and brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from signgeom import norms
from signgeom.norms import (
    DimensionTooLargeError,
    brute_force_inf_to_one_norm,
    exact_inf_to_one_norm,
    inf_to_one_norm,
    is_psd,
    lambda_max,
    prop3_bound,
    psd_inf_to_one_norm,
    rho_diag,
    sign_vectors,
)

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


def random_psd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T


def test_sign_vectors_are_all_distinct_vertices():
    s = sign_vectors(4)
    assert s.shape == (4, 16)
    assert set(np.unique(s)) == {-1.0, 1.0}
    assert len({tuple(col) for col in s.T}) == 16


@given(arrays(np.float64, 6, elements=finite))
def test_diagonal_matrix_gives_sum_of_absolute_diagonal(diag):
    # For PSD diagonal H this is the trace.
    assert inf_to_one_norm(np.diag(diag)) == pytest.approx(np.abs(diag).sum(), abs=1e-12)


@given(finite, finite, finite)
def test_two_by_two_closed_form(a, b, c):
    h = np.array([[a, b], [b, c]])
    expected = max(abs(a + b) + abs(b + c), abs(a - b) + abs(b - c))
    assert inf_to_one_norm(h) == pytest.approx(expected, abs=1e-12)
    if a >= 0 and c >= 0:  # then the max is attained at s = (1, +-1): a + c + 2|b|
        assert inf_to_one_norm(h) == pytest.approx(a + c + 2 * abs(b), abs=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3, 5, 8, 13, 14])
def test_random_matrices_match_brute_force(d):
    rng = np.random.default_rng(d)
    stack = rng.standard_normal((4, d, d))  # general, not symmetric
    expected = [brute_force_inf_to_one_norm(h) for h in stack]
    np.testing.assert_allclose(inf_to_one_norm(stack), expected, rtol=1e-13)


def test_batched_shapes_are_kept():
    rng = np.random.default_rng(0)
    stack = rng.standard_normal((2, 3, 5, 5))
    out = inf_to_one_norm(stack)
    assert out.shape == (2, 3)
    assert out[1, 2] == pytest.approx(brute_force_inf_to_one_norm(stack[1, 2]))


def test_large_dimension_uses_blocks_and_matches_psd_identity():
    # d = 16 > 13 exercises the high block; for PSD H, ||H||_inf,1 = max_s s^T H s (Rohn).
    h = random_psd(np.random.default_rng(1), 16)
    assert inf_to_one_norm(h) == pytest.approx(psd_inf_to_one_norm(h), rel=1e-13)
    assert inf_to_one_norm(h) == pytest.approx(brute_force_inf_to_one_norm(h), rel=1e-13)


def test_refuses_dimension_above_limit():
    with pytest.raises(DimensionTooLargeError, match="d = 9 exceeds the limit max_dim = 8"):
        inf_to_one_norm(np.eye(9), max_dim=8)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(0, 10_000))
def test_eq9_and_prop3_bounds_on_random_psd(d, seed):
    h = random_psd(np.random.default_rng(seed), d)
    l2, linf = lambda_max(h), inf_to_one_norm(h)
    tol = 1e-9 * l2
    assert l2 - tol <= linf <= d * l2 + tol  # Eq. 9
    assert linf <= prop3_bound(h) + tol  # Prop. 3
    assert 1 / d - 1e-12 <= rho_diag(h) <= 1 + 1e-12


def test_prop3_bound_is_tight_for_diagonal_and_rho_diag_extremes():
    h = np.diag([1.0, 2.0, 3.0])
    assert rho_diag(h) == 1.0
    assert prop3_bound(h) == pytest.approx(6.0) == inf_to_one_norm(h)
    ones = np.ones((4, 4))  # rank one, all entries equal: rho_diag = 1/d
    assert rho_diag(ones) == pytest.approx(0.25)
    assert inf_to_one_norm(ones) == pytest.approx(16.0)  # s = 1: ||1 1^T 1||_1 = d^2


def brute_force_max_quadratic_form(h):
    signs = sign_vectors(h.shape[-1])
    return float(np.einsum("in,ij,jn->n", signs, h, signs).max())


@pytest.mark.parametrize("d", [1, 2, 3, 7, 12, 13, 14, 15, 17])
def test_psd_path_matches_brute_force(d):
    # d >= 14 has a high block (12 low signs + the fixed last sign); d = 12 batches matrices.
    rng = np.random.default_rng(100 + d)
    stack = np.stack([random_psd(rng, d) for _ in range(3)])
    expected = [brute_force_inf_to_one_norm(h) for h in stack]
    np.testing.assert_allclose(psd_inf_to_one_norm(stack), expected, rtol=1e-12)
    np.testing.assert_allclose(exact_inf_to_one_norm(stack), expected, rtol=1e-12)


def test_psd_path_batches_many_small_matrices_in_one_tile():
    rng = np.random.default_rng(5)
    stack = np.stack([random_psd(rng, 6) for _ in range(300)]).reshape(3, 100, 6, 6)
    out = psd_inf_to_one_norm(stack)
    assert out.shape == (3, 100)
    for idx in [(0, 0), (1, 57), (2, 99)]:
        assert out[idx] == pytest.approx(brute_force_inf_to_one_norm(stack[idx]), rel=1e-12)


def test_non_psd_matrix_takes_the_general_path():
    # Indefinite H: max_s s^T H s is NOT the norm; the dispatcher must not use it.
    h = np.array([[1.0, 2.0, 0.0], [2.0, -3.0, 1.0], [0.0, 1.0, 0.5]])
    assert not is_psd(h)
    norm = brute_force_inf_to_one_norm(h)
    assert brute_force_max_quadratic_form(h) < norm - 1.0
    assert exact_inf_to_one_norm(h) == pytest.approx(norm, rel=1e-13)
    rng = np.random.default_rng(3)
    mixed = np.stack([random_psd(rng, 9), -random_psd(rng, 9), rng.standard_normal((9, 9))])
    np.testing.assert_array_equal(is_psd(mixed), [True, False, False])
    expected = [brute_force_inf_to_one_norm(m) for m in mixed]
    np.testing.assert_allclose(exact_inf_to_one_norm(mixed), expected, rtol=1e-13)


def test_psd_check_tolerates_round_off_only():
    h = np.diag([1.0, 1.0, 0.0])
    assert is_psd(h - 1e-14 * np.eye(3))  # round-off below zero: PSD
    assert not is_psd(h - 1e-6 * np.eye(3))
    assert not is_psd(np.array([[1.0, 0.5], [0.4, 1.0]]))  # not symmetric


def test_psd_path_refuses_dimension_above_limit():
    with pytest.raises(DimensionTooLargeError, match="d = 9 exceeds the limit max_dim = 8"):
        psd_inf_to_one_norm(np.eye(9), max_dim=8)
    with pytest.raises(DimensionTooLargeError, match="max_dim = 8"):
        exact_inf_to_one_norm(np.eye(9), max_dim=8)


@pytest.mark.parametrize("kind", ["random", "diagonal", "rank_one", "tiny", "huge", "zero"])
def test_float32_screened_path_gives_the_float64_maximum(monkeypatch, kind):
    # Small tiles and low block so that d = 13 takes the screened path (2^8 high rows, 16 a tile).
    monkeypatch.setattr(norms, "_PSD_LOW_BITS", 4)
    monkeypatch.setattr(norms, "_PSD_TILE_ELEMENTS", 1 << 8)
    rng = np.random.default_rng(11)
    d = 13
    h = {
        "random": random_psd(rng, d),
        "diagonal": np.diag(rng.uniform(1, 2, d)),  # every sign vector ties: all rows rechecked
        "rank_one": np.outer(*[rng.standard_normal(d)] * 2) + 1e-3 * np.eye(d),
        "tiny": 1e-200 * random_psd(rng, d),
        "huge": 1e200 * random_psd(rng, d),
        "zero": np.zeros((d, d)),
    }[kind]
    assert psd_inf_to_one_norm(h) == pytest.approx(brute_force_inf_to_one_norm(h), rel=1e-13)
