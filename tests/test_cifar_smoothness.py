"""Smoothness estimators against known values (float64 least squares, quartic toy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from signgeom.estimate.fixed_objective import fixed_mode, full_gradient, make_chunks
from signgeom.estimate.smoothness import (
    estimate_smoothness,
    gradient_density,
    improvement_ratio,
    shard_epochs,
)


def _half_mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((out.squeeze(-1) - y) ** 2).mean()


def test_gradient_density_known_vectors():
    d = 7
    e1 = torch.zeros(d)
    e1[0] = 3.0
    assert gradient_density(e1) == pytest.approx(1 / d)
    assert gradient_density(-torch.ones(d)) == pytest.approx(1.0)
    assert gradient_density(torch.tensor([3.0, -4.0])) == pytest.approx(49 / 50)
    assert improvement_ratio(0.5, 10, 2.0, 4.0) == pytest.approx(2.5)


def test_least_squares_matches_hessian_exactly():
    gen = torch.Generator().manual_seed(0)
    n, p = 40, 6
    X = torch.randn(n, p, generator=gen, dtype=torch.float64)
    X[:, 0] *= 5.0  # make H far from isotropic
    y = torch.randn(n, generator=gen, dtype=torch.float64)
    model = nn.Linear(p, 1, bias=False).double()
    w0 = torch.randn(p, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(w0)
    chunks = make_chunks(X, y, n, 16)  # uneven chunks 16, 16, 8
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    gammas = [0.25, 0.5, 1.0]
    est = estimate_smoothness(
        model, _half_mse, chunks, alpha_gd=0.3, alpha_sign=0.01, gammas=gammas, reduction="min"
    )

    H = X.T @ X / n
    g = X.T @ (X @ w0 - y) / n
    s_gd, s_sign = -0.3 * g, -0.01 * torch.sign(g)
    L2 = float((H @ s_gd).norm(2) / s_gd.norm(2))
    Linf = float((H @ s_sign).norm(1) / s_sign.abs().max())
    phi = float(g.abs().sum() ** 2 / (p * g.dot(g)))
    assert est.L2_hat == pytest.approx(L2, rel=1e-12)
    assert est.Linf_hat == pytest.approx(Linf, rel=1e-12)
    assert est.phi == pytest.approx(phi, rel=1e-12)
    assert est.R_hat == pytest.approx(phi * p * L2 / Linf, rel=1e-12)
    assert est.grad_norm2 == pytest.approx(float(g.norm()), rel=1e-12)
    assert np.allclose(est.l2_per_gamma, L2, rtol=1e-12)  # quadratic: no gamma dependence
    # cost: 1 + 2 len(gammas) gradient passes, each over all chunks
    assert est.n_grad_passes == 1 + 2 * len(gammas)
    assert len(calls) == len(chunks) * (1 + 2 * len(gammas))
    assert torch.equal(model.weight.detach().flatten(), w0)  # parameters restored


class _Quartic(nn.Module):
    """f(w) = sum_i w_i^4 / 4 (input ignored): grad = w^3, curvature grows along s."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w.expand(x.shape[0], -1)


def _quartic_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (out**4).sum(1).mean() / 4


@pytest.mark.parametrize("reduction", ["min", "max"])
def test_reduction_picks_right_gamma_on_quartic(reduction):
    w = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    chunks = [(torch.zeros(2, 1, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))]
    gammas = [0.5, 1.0, 2.0]
    est = estimate_smoothness(
        _Quartic(w),
        _quartic_loss,
        chunks,
        alpha_gd=0.1,
        alpha_sign=0.2,
        gammas=gammas,
        reduction=reduction,
    )
    g = w**3
    expected2, expectedinf = [], []
    for gm in gammas:
        s = -0.1 * g
        expected2.append(float(((w + gm * s) ** 3 - g).norm(2) / (gm * s.norm(2))))
        s = -0.2 * torch.sign(g)
        expectedinf.append(float(((w + gm * s) ** 3 - g).norm(1) / (gm * s.abs().max())))
    assert np.allclose(est.l2_per_gamma, expected2, rtol=1e-12)
    assert np.allclose(est.linf_per_gamma, expectedinf, rtol=1e-12)
    pick = min if reduction == "min" else max
    assert est.L2_hat == pytest.approx(pick(expected2), rel=1e-12)
    assert est.Linf_hat == pytest.approx(pick(expectedinf), rel=1e-12)
    assert est.gamma_L2 == gammas[expected2.index(pick(expected2))]
    assert len(set(expected2)) == len(gammas)  # the toy really distinguishes the gammas


def _dropout_bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)
    )


def _data():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(60, 5, generator=gen)
    y = torch.randint(0, 3, (60,), generator=gen)
    return make_chunks(x, y, 60, 20)


def test_same_randomness_gradients_bitwise_identical():
    net = _dropout_bn_net().train()
    chunks = _data()
    params = list(net.parameters())
    loss = nn.functional.cross_entropy
    buffers = {k: v.clone() for k, v in net.state_dict().items() if "running" in k or "num" in k}
    grads = {}
    for mode in ("batch_stats", "running_stats"):
        with fixed_mode(net, mode):
            a = full_gradient(net, loss, chunks, params)
            b = full_gradient(net, loss, chunks, params)
        assert torch.equal(a, b), mode
        grads[mode] = a
    assert not torch.allclose(grads["batch_stats"], grads["running_stats"])  # mode matters
    for k, v in buffers.items():  # running statistics never updated
        assert torch.equal(net.state_dict()[k], v), k
    assert all(m.training for m in net.modules())  # modes restored
    assert all(m.track_running_stats for m in net.modules() if isinstance(m, nn.BatchNorm1d))
    # negative control: outside the fixed mode dropout makes the two gradients differ
    c = full_gradient(net, loss, chunks, params)
    d = full_gradient(net, loss, chunks, params)
    assert not torch.equal(c, d)


def test_estimate_restores_model_and_mlp_min_le_max():
    net = _dropout_bn_net().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    kw = dict(alpha_gd=0.5, alpha_sign=0.05, gammas=[0.25, 1.0, 4.0])
    lo = estimate_smoothness(net, nn.functional.cross_entropy, _data(), reduction="min", **kw)
    hi = estimate_smoothness(net, nn.functional.cross_entropy, _data(), reduction="max", **kw)
    assert lo.L2_hat <= hi.L2_hat and lo.Linf_hat <= hi.Linf_hat
    assert lo.L2_hat < hi.L2_hat  # non-quadratic: gammas disagree
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_shards_partition_sorted_epochs():
    epochs = [5, 0, 3, 1, 2, 4]
    shards = [shard_epochs(epochs, i, 3) for i in range(3)]
    assert shards == [[0, 3], [1, 4], [2, 5]]
    with pytest.raises(ValueError):
        shard_epochs(epochs, 3, 3)
