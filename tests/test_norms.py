"""||H||_inf,1, rho_diag and the Prop. 3 bound against closed forms and brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from signgeom.norms import (
    DimensionTooLargeError,
    brute_force_inf_to_one_norm,
    inf_to_one_norm,
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
