"""The Hessian in rotated training coordinates: S R H R^T S^T against dense numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.linalg import block_diag
from scipy.sparse.linalg import aslinearoperator
from torch import nn

from settings_helpers import unit_settings
from signgeom.estimate.counting_operator import CountingOperator
from signgeom.estimate.estimate_settings import HessianMethod
from signgeom.estimate.fixed_objective import hessian_operator, make_chunks
from signgeom.estimate.hessian import _exact_blocks
from signgeom.estimate.hessian_blocks import block_hessian, block_indices, block_quantities
from signgeom.estimate.rotated_hessian import (
    RotatedOperator,
    from_kept_rotated,
    kept_coordinates,
    to_kept_rotated,
)
from signgeom.norms import rho_diag
from signgeom.training.rotation import BlockRotation, rotation_power

SEED = 3


def dense_kept_rotation(named_sizes, theta: float, k: int, seed: int = SEED) -> np.ndarray:
    """``S R`` as a dense d x d matrix, built from the per-tensor ``Q^theta`` with numpy."""
    rows = []
    for name, n in named_sizes:
        nb = math.ceil(n / k)
        pad = np.eye(nb * k, n)  # P^T: zero-pads n entries to nb k
        R_i = np.kron(np.eye(nb), rotation_power(k, theta, seed, name)) @ pad
        rows.append(R_i[:n])  # S keeps the first n rotated coordinates
    return block_diag(*rows)


def _linear_least_squares(n: int = 30, p: int = 7):
    """``Linear(p, 1)`` with bias, MSE: H = 2 [X 1]^T [X 1] / n (weight 7 then bias 1)."""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(n, p, generator=gen, dtype=torch.float64)
    X[:, 2] *= 4.0
    y = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    model = nn.Linear(p, 1).double()
    A = torch.cat([X, torch.ones(n, 1, dtype=torch.float64)], dim=1)
    H = (2 * A.T @ A / n).numpy()
    return model, make_chunks(X, y, n, 16), H


@pytest.mark.parametrize("theta", [0.0, 0.4, 1.0])
def test_rotated_network_hessian_is_SR_H_RtSt(theta):
    model, chunks, H = _linear_least_squares()
    named = [(name, p.numel()) for name, p in model.named_parameters()]
    rot = BlockRotation(named, theta, 3, SEED)  # float32 as in training: upcast inside
    op = CountingOperator(hessian_operator(model, nn.MSELoss(), chunks, list(model.parameters())))
    dense = RotatedOperator(op, rot) @ np.eye(8)
    SR = dense_kept_rotation(named, theta, 3)
    np.testing.assert_allclose(dense, SR @ H @ SR.T, rtol=1e-10, atol=1e-10)
    assert op.n_hvp == 8
    if theta == 0.0:
        np.testing.assert_array_equal(dense, op @ np.eye(8))  # exactly the unrotated Hessian


def test_kept_coordinates_and_round_trip():
    rot = BlockRotation([("a", 7), ("b", 1), ("c", 6)], 0.7, 3, SEED, torch.float64)
    # a: 3 blocks (9 rotated), b: 1 block (3), c: 2 blocks (6); keep the first n of each
    assert kept_coordinates(rot).tolist() == [*range(7), 9, *range(12, 18)]
    x = np.random.default_rng(0).standard_normal(14)
    SR = dense_kept_rotation([("a", 7), ("b", 1), ("c", 6)], 0.7, 3)
    np.testing.assert_allclose(to_kept_rotated(rot, x), SR @ x, atol=1e-13)
    np.testing.assert_allclose(from_kept_rotated(rot, x), SR.T @ x, atol=1e-13)
    # tensors with n a multiple of k are rotated by an orthogonal map: no loss there
    y = np.zeros(14)
    y[12:] = x[12:]
    np.testing.assert_allclose(to_kept_rotated(rot, from_kept_rotated(rot, y)), y, atol=1e-13)


def test_rho_diag_of_rotated_blocks_matches_closed_form():
    model, chunks, H = _linear_least_squares()
    named = [(name, p.numel()) for name, p in model.named_parameters()]
    params = list(model.parameters())
    theta, k = 0.8, 3
    rot = BlockRotation(named, theta, k, SEED)
    SR = dense_kept_rotation(named, theta, k)
    Hrot = SR @ H @ SR.T
    g = np.random.default_rng(1).standard_normal(8)
    s = unit_settings(HessianMethod, block_size=3, n_random_blocks=2, n_contiguous_blocks=2)
    op = CountingOperator(hessian_operator(model, nn.MSELoss(), chunks, params))
    blocks = _exact_blocks(
        model, nn.MSELoss(), chunks, params, op, g, s, np.random.default_rng(5), rot
    )
    rng = np.random.default_rng(5)
    expected = []
    for kind, n in [("random", 2), ("contiguous", 2), ("last_layer", 1)]:
        expected += block_indices([7, 1], kind, 3, n, rng)
    assert len(blocks) == len(expected) == 5
    for b, index in zip(blocks, expected, strict=True):
        B = Hrot[np.ix_(index, index)]
        q = block_quantities(B, g[index])
        assert b["rho_diag"] == pytest.approx(float(rho_diag(B)), rel=1e-9)
        assert b["rho_diag"] == pytest.approx(q["rho_diag"], rel=1e-9)
        assert b["lambda_max"] == pytest.approx(q["lambda_max"], rel=1e-9)
        assert b["linf1"] == pytest.approx(q["linf1"], rel=1e-9)
    # the rotation changes the blocks: the unrotated contiguous weight blocks differ
    contiguous = expected[2]
    assert float(rho_diag(H[np.ix_(contiguous, contiguous)])) != pytest.approx(
        blocks[2]["rho_diag"], rel=1e-3
    )


def test_theta_zero_blocks_are_exactly_the_unrotated_ones():
    model, chunks, _ = _linear_least_squares()
    named = [(name, p.numel()) for name, p in model.named_parameters()]
    params = list(model.parameters())
    g = np.random.default_rng(1).standard_normal(8)
    s = unit_settings(HessianMethod, block_size=3, n_random_blocks=3, n_contiguous_blocks=2)

    def run(rotation):
        op = CountingOperator(hessian_operator(model, nn.MSELoss(), chunks, params))
        rng = np.random.default_rng(7)
        return _exact_blocks(model, nn.MSELoss(), chunks, params, op, g, s, rng, rotation)

    plain, zero = run(None), run(BlockRotation(named, 0.0, 3, SEED))
    assert plain == zero


def test_diagonal_hessian_is_diagonal_only_unrotated():
    d, k = 12, 4
    H = np.diag(np.linspace(1.0, 9.0, d))
    named = [("w", d)]
    index = np.arange(k, 2 * k)  # one contiguous block, rotated by one Q^theta
    rhos = {}
    for theta in (0.0, 1.0):
        op = RotatedOperator(aslinearoperator(H), BlockRotation(named, theta, k, SEED))
        B, asym = block_hessian(op, index)
        assert asym < 1e-12
        rhos[theta] = block_quantities(B, np.ones(k))["rho_diag"]
        Q = rotation_power(k, theta, SEED, "w")
        np.testing.assert_allclose(B, Q @ H[np.ix_(index, index)] @ Q.T, atol=1e-12)
    assert rhos[0.0] == 1.0
    assert rhos[1.0] < 0.9
