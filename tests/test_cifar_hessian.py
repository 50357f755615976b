"""Hessian premises against closed forms: least squares (H = 2 X^T X / n) and a small MLP whose
dense Hessian comes from torch.func.hessian; the stage leaves model, buffers and RNG untouched."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.sparse.linalg import aslinearoperator
from torch import nn
from torch.func import functional_call, hessian

from settings_helpers import unit_settings
from signgeom.estimate.estimate_settings import HessianMethod
from signgeom.estimate.fixed_objective import make_chunks
from signgeom.estimate.hessian import (
    CountingOperator,
    block_indices,
    block_quantities,
    deflated_hutchinson,
    estimate_hessian,
    hessian_operator,
    lanczos_extremes,
    select_epochs,
    slq_nodes_weights,
)
from signgeom.norms import brute_force_inf_to_one_norm, rho_diag


def _least_squares(n: int = 40, p: int = 8):
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(n, p, generator=gen, dtype=torch.float64)
    X[:, 0] *= 5.0  # one outlier direction
    y = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    model = nn.Linear(p, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, p, generator=gen, dtype=torch.float64))
    H = (2 * X.T @ X / n).numpy()  # MSELoss(mean): (1/n) sum r^2
    g = (2 * X.T @ (X @ model.weight.T - y) / n).reshape(-1).detach().numpy()
    return model, make_chunks(X, y, n, 16), H, g  # uneven chunks 16, 16, 8


class _MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(torch.tanh(self.bn(self.fc1(x)))))


def _mlp_problem():
    torch.manual_seed(1)
    model = _MLP().double()
    with torch.no_grad():  # non-trivial running statistics and affine map: the bn mode matters
        model.bn.running_mean.fill_(0.3)
        model.bn.running_var.fill_(2.0)
        model.bn.weight.uniform_(0.5, 2.0)
        model.bn.bias.uniform_(-1.0, 1.0)
    gen = torch.Generator().manual_seed(2)
    X = torch.randn(14, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (14,), generator=gen)
    chunks = make_chunks(X, y, 14, 8)  # uneven chunks 8, 6
    return model, chunks


def _dense_mlp_hessian(model: nn.Module, chunks, bn_mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Dense H and g of the chunk-weighted mean cross-entropy, dropout off, bn per mode."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    buffers = dict(model.named_buffers())
    n = sum(int(y.shape[0]) for _, y in chunks)

    def loss(flat: torch.Tensor) -> torch.Tensor:
        params, off = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            k = math.prod(shape)
            params[name] = flat[off : off + k].reshape(shape)
            off += k
        total = 0.0
        for x, y in chunks:
            if bn_mode == "batch_stats":  # each chunk's own statistics, written out
                z = x @ params["fc1.weight"].T + params["fc1.bias"]
                z = (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)
                h = torch.tanh(z * params["bn.weight"] + params["bn.bias"])
                out = h @ params["fc2.weight"].T + params["fc2.bias"]
            else:
                model.eval()
                out = functional_call(model, {**params, **buffers}, (x,))
            total = total + nn.functional.cross_entropy(out, y) * (y.shape[0] / n)
        return total

    H = hessian(loss)(flat0)
    g = torch.func.grad(loss)(flat0)
    return H.detach().numpy(), g.detach().numpy()


def test_operator_and_lanczos_match_least_squares_closed_form():
    model, chunks, H, _ = _least_squares()
    op = CountingOperator(hessian_operator(model, nn.MSELoss(), chunks, list(model.parameters())))
    np.testing.assert_allclose(op @ np.eye(8), H, rtol=1e-12, atol=1e-12)
    lam = np.linalg.eigvalsh(H)
    spec = lanczos_extremes(op, 3, np.random.default_rng(0), tol=1e-10)
    np.testing.assert_allclose(spec.top, lam[::-1][:3], rtol=1e-8)
    assert spec.lambda_min == pytest.approx(lam[0], rel=1e-8)
    assert spec.converged
    # Ritz vectors are eigenvectors: H v = lambda v
    np.testing.assert_allclose(H @ spec.vectors, spec.vectors * spec.top, atol=1e-7)


def test_deflated_hutchinson_exact_when_fully_deflated_and_unbiased_otherwise():
    model, chunks, H, _ = _least_squares()
    op = CountingOperator(hessian_operator(model, nn.MSELoss(), chunks, list(model.parameters())))
    _, V = np.linalg.eigh(H)
    full = deflated_hutchinson(op, V, 4, np.random.default_rng(0))
    assert full.trace == pytest.approx(np.trace(H), rel=1e-12)
    assert full.se == 0.0
    # the statistics on the dense H (8,000 exact products in milliseconds; the operator
    # path is the one above): Var(z^T H z) = 2 (||H||_F^2 - sum H_ii^2) for Rademacher z
    op = aslinearoperator(H)
    plain = deflated_hutchinson(op, np.zeros((8, 0)), 4000, np.random.default_rng(1))
    sd = math.sqrt(2 * ((H**2).sum() - (np.diag(H) ** 2).sum()))
    assert plain.se == pytest.approx(sd / math.sqrt(4000), rel=0.1)
    assert abs(plain.trace - np.trace(H)) < 4 * plain.se
    # deflating the outlier removes most of the variance
    top = deflated_hutchinson(op, V[:, -1:], 4000, np.random.default_rng(1))
    assert abs(top.trace - np.trace(H)) < 4 * top.se
    assert top.exact == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-10)


def test_block_quantities_and_eq13_on_least_squares_blocks():
    model, chunks, H, g = _least_squares()
    op = CountingOperator(hessian_operator(model, nn.MSELoss(), chunks, list(model.parameters())))
    from signgeom.estimate.hessian_blocks import block_hessian

    index = np.array([0, 2, 3, 7])
    B, asym = block_hessian(op, index)
    np.testing.assert_allclose(B, H[np.ix_(index, index)], rtol=1e-12, atol=1e-14)
    assert asym < 1e-12
    q = block_quantities(B, g[index])
    Bt = H[np.ix_(index, index)]
    lam = np.linalg.eigvalsh(Bt)
    linf = brute_force_inf_to_one_norm(Bt)
    gi = g[index]
    phi = np.abs(gi).sum() ** 2 / (4 * gi @ gi)
    assert q["psd"]
    assert q["rho_diag"] == pytest.approx(float(rho_diag(Bt)), rel=1e-12)
    assert q["lambda_max"] == pytest.approx(lam[-1], rel=1e-12)
    assert q["ratio"] == pytest.approx(lam[-1] / lam.mean(), rel=1e-12)
    assert q["linf1"] == pytest.approx(linf, rel=1e-12)
    assert q["prop3_bound"] == pytest.approx(np.trace(Bt) / rho_diag(Bt), rel=1e-12)
    assert q["R"] == pytest.approx(phi * 4 * lam[-1] / linf, rel=1e-12)
    assert q["eq13_bound"] == pytest.approx(rho_diag(Bt) * lam[-1] / lam.mean() * phi, rel=1e-12)
    # Eq. 13 and Prop. 3 hold on a PSD block
    assert q["R"] >= q["eq13_bound"] * (1 - 1e-12)
    assert q["linf1"] <= q["prop3_bound"] * (1 + 1e-12)


def test_zero_block_has_no_rho_diag():
    q = block_quantities(np.zeros((3, 3)), np.ones(3))
    assert math.isnan(q["rho_diag"]) and q["lambda_max"] == 0.0


def test_indefinite_block_has_no_psd_bounds():
    q = block_quantities(np.array([[1.0, 2.0], [2.0, -1.0]]), np.array([1.0, 1.0]))
    assert not q["psd"]
    assert q["lambda_min"] == pytest.approx(-math.sqrt(5))
    assert math.isnan(q["prop3_bound"]) and math.isnan(q["eq13_bound"])
    assert math.isnan(q["ratio"])  # lambda_bar = 0


@pytest.mark.parametrize("bn_mode", ["batch_stats", "running_stats"])
def test_mlp_estimate_matches_dense_hessian(bn_mode):
    model, chunks = _mlp_problem()
    H, g = _dense_mlp_hessian(model, chunks, bn_mode)
    d = H.shape[0]
    lam = np.linalg.eigvalsh(H)
    settings = unit_settings(
        HessianMethod, top_k=2, lanczos_tol=1e-9, n_probes=4, block_size=5, n_random_blocks=2
    )
    est = estimate_hessian(model, nn.CrossEntropyLoss(), chunks, settings, bn_mode, density=False)
    r = est.row
    assert r["d"] == d
    assert r["lambda_max"] == pytest.approx(lam[-1], rel=1e-8)
    assert r["lambda_2"] == pytest.approx(lam[-2], rel=1e-8)
    assert r["lambda_min"] == pytest.approx(lam[0], rel=1e-8)
    assert lam[0] < 0  # off the optimum the Hessian is indefinite
    assert abs(r["trace"] - np.trace(H)) < 5 * r["trace_se"] + 1e-10
    assert r["lambda_bar"] == pytest.approx(r["trace"] / d)
    phi = np.abs(g).sum() ** 2 / (d * g @ g)
    assert r["phi"] == pytest.approx(phi, rel=1e-10)
    # blocks: exact principal submatrices of the dense Hessian, drawn as documented
    params = list(model.parameters())
    rng = np.random.default_rng(settings.seed)
    rng.standard_normal(d), rng.standard_normal(d)  # the two Lanczos starts
    rng.choice([-1.0, 1.0], size=(d, settings.n_probes))  # the probes
    sizes = [p.numel() for p in params]
    expected = []
    for kind, n in [("random", 2), ("contiguous", 1), ("last_layer", 1)]:
        expected += block_indices(sizes, kind, settings.block_size, n, rng)
    assert [b["kind"] for b in est.blocks] == ["random", "random", "contiguous", "last_layer"]
    for b, index in zip(est.blocks, expected, strict=True):
        Bt = H[np.ix_(index, index)]
        assert b["rho_diag"] == pytest.approx(float(rho_diag(Bt)), rel=1e-8)
        assert b["lambda_max"] == pytest.approx(np.linalg.eigvalsh(Bt)[-1], rel=1e-8)
        assert b["linf1"] == pytest.approx(brute_force_inf_to_one_norm(Bt), rel=1e-8)
    assert expected[-1].tolist() == list(range(d - 3, d))  # fc2.bias
    rho_random = np.mean([rho_diag(H[np.ix_(i, i)]) for i in expected[:2]])
    assert r["rho_diag_random"] == pytest.approx(rho_random, rel=1e-8)
    if r["lambda_bar"] > 0:
        assert r["eq13_random"] == pytest.approx(
            rho_random * r["lambda_max"] / r["lambda_bar"] * phi, rel=1e-8
        )


def test_mlp_estimate_in_rotated_coordinates_matches_dense_rotated_hessian():
    from signgeom.estimate.rotated_hessian import to_kept_rotated
    from signgeom.training.rotation import BlockRotation

    model, chunks = _mlp_problem()
    H, g = _dense_mlp_hessian(model, chunks, "batch_stats")
    d = H.shape[0]
    named = [(n, p.numel()) for n, p in model.named_parameters()]
    rot = BlockRotation(named, 0.9, 5, 11, torch.float64)  # pads fc1.bias, bn.*, fc2.*
    SR = np.stack([to_kept_rotated(rot, e) for e in np.eye(d)], axis=1)
    Hr, gr = SR @ H @ SR.T, SR @ g
    settings = unit_settings(HessianMethod, top_k=2, lanczos_tol=1e-9, n_probes=4, block_size=5)
    plain = estimate_hessian(model, nn.CrossEntropyLoss(), chunks, settings, density=False)
    est = estimate_hessian(
        model, nn.CrossEntropyLoss(), chunks, settings, rotation=rot, density=False
    )
    r = est.row
    assert r["lambda_max"] == pytest.approx(plain.row["lambda_max"], rel=1e-8)  # invariant
    Rg = rot.to_rotated(torch.as_tensor(g)).numpy()  # phi over all d' rotated coordinates
    assert r["phi"] == pytest.approx(np.abs(Rg).sum() ** 2 / (Rg.size * Rg @ Rg), rel=1e-10)
    assert r["phi"] != pytest.approx(plain.row["phi"], rel=1e-3)
    rng = np.random.default_rng(settings.seed)
    rng.standard_normal(d), rng.standard_normal(d)
    rng.choice([-1.0, 1.0], size=(d, settings.n_probes))
    sizes = [p.numel() for p in model.parameters()]
    expected = []
    for kind, n in [("random", 2), ("contiguous", 1), ("last_layer", 1)]:
        expected += block_indices(sizes, kind, settings.block_size, n, rng)
    for b, index in zip(est.blocks, expected, strict=True):
        B = Hr[np.ix_(index, index)]
        assert b["rho_diag"] == pytest.approx(float(rho_diag(B)), rel=1e-8)
        phi_b = np.abs(gr[index]).sum() ** 2 / (len(index) * gr[index] @ gr[index])
        assert b["phi"] == pytest.approx(phi_b, rel=1e-8)
    rho_random = np.mean([rho_diag(Hr[np.ix_(i, i)]) for i in expected[:2]])
    assert r["rho_diag_random"] == pytest.approx(rho_random, rel=1e-8)


def test_stage_leaves_model_buffers_and_rng_unchanged():
    model, chunks = _mlp_problem()
    model.train()
    model.drop.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    torch_rng = torch.get_rng_state()
    np_rng = np.random.get_state()
    py_rng = random.getstate()
    settings = unit_settings(
        HessianMethod,
        top_k=1,
        lanczos_tol=1e-2,
        n_probes=2,
        block_size=3,
        n_random_blocks=1,
        n_contiguous_blocks=0,
        slq_steps=3,
        slq_repeats=2,
    )
    est = estimate_hessian(model, nn.CrossEntropyLoss(), chunks, settings, "batch_stats")
    assert len(est.density) == 6
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
        assert v.dtype == state[k].dtype
    assert [m.training for m in model.modules()] == modes
    assert model.bn.track_running_stats
    assert torch.equal(torch.get_rng_state(), torch_rng)
    np_after = np.random.get_state()
    assert np_after[0] == np_rng[0] and np.array_equal(np_after[1], np_rng[1])
    assert np_after[2:] == np_rng[2:]
    assert random.getstate() == py_rng
    # deterministic: the same settings give the same numbers
    again = estimate_hessian(model, nn.CrossEntropyLoss(), chunks, settings, "batch_stats")
    a, b = (pd.Series({k: v for k, v in e.row.items() if k != "seconds"}) for e in (again, est))
    pd.testing.assert_series_equal(a, b, check_exact=True)
    assert again.blocks == est.blocks and again.density == est.density


def test_slq_weights_sum_to_one_and_nodes_lie_in_the_spectrum():
    model, chunks, H, _ = _least_squares()
    op = hessian_operator(model, nn.MSELoss(), chunks, list(model.parameters()))
    lam = np.linalg.eigvalsh(H)
    for nodes, weights in slq_nodes_weights(op, 8, 2, seed=0):
        assert weights.sum() == pytest.approx(1.0, rel=1e-10)
        assert nodes.min() >= lam[0] - 1e-8 and nodes.max() <= lam[-1] + 1e-8
    # Gauss quadrature from start v: sum_j w_j node_j^m = v^T H^m v / |v|^2 for m < 2 steps
    torch.manual_seed(0)
    v = torch.randn(8, dtype=torch.float64).numpy()
    v /= np.linalg.norm(v)
    nodes, weights = slq_nodes_weights(op, 4, 1, seed=0)[0]
    for m in (1, 2, 3, 5, 7):
        moment = v @ np.linalg.matrix_power(H, m) @ v
        assert (weights * nodes**m).sum() == pytest.approx(moment, rel=1e-8)


def test_block_indices_kinds_and_refusal():
    rng = np.random.default_rng(0)
    sizes = [100, 3, 50, 10]
    (r,) = block_indices(sizes, "random", 6, 1, rng)
    assert len(set(r.tolist())) == 6 and r.max() < 163
    for c in block_indices(sizes, "contiguous", 6, 20, rng):
        assert np.all(np.diff(c) == 1)
        inside = [(0, 100), (103, 153), (153, 163)]  # not the 3-entry tensor
        assert any(lo <= c[0] and c[-1] < hi for lo, hi in inside)
    (last,) = block_indices(sizes, "last_layer", 3, 1, rng)
    assert last.tolist() == list(range(153, 163))
    with pytest.raises(ValueError, match="refused above"):
        block_indices([100, 65], "last_layer", 6, 1, rng)


def test_select_epochs():
    assert select_epochs([3, 0, 1, 2, 4], 2, 1) == ([0, 2, 4], {0, 2, 4})
    assert select_epochs([0, 1, 2, 3], 2, 2) == ([1, 3], {3})
    assert select_epochs([0, 1, 2, 3], 5, 0) == ([3], set())
    with pytest.raises(ValueError):
        select_epochs([0, 1], 0, 1)


@pytest.mark.parametrize("largest", [1e-5, 0.3, 28.2, 186.5, 5e4])
def test_premises_spectrum_ticks_are_symmetric_sparse_and_cover_the_nodes(largest):
    from signgeom.plotting.premises import symlog_ticks

    ticks = symlog_ticks(largest)
    positive = [t for t in ticks if t > 0]
    assert ticks == sorted(ticks) and 0.0 in ticks
    assert [-t for t in reversed(positive)] == [t for t in ticks if t < 0]
    steps = [b / a for a, b in zip(positive[:-1], positive[1:], strict=True)]
    assert steps == pytest.approx([100.0] * len(steps))
    assert positive[0] == pytest.approx(1e-2)
    assert positive[-1] >= largest or largest < 1e-2
    assert positive[-1] < 1e4 * max(largest, 1e-2)
