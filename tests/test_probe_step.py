"""The probe-step options against closed forms: the probe lengths on a least-squares problem
(where the quotients do not depend on them) and the quotients on a quartic (where they do)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from signgeom.estimate.fixed_objective import make_chunks
from signgeom.estimate.sensitivity import probe_sensitivity, spread_epochs
from signgeom.estimate.smoothness import estimate_smoothness, probe_alphas

LR_GD, LR_SIGN, BETA, RADIUS = 0.3, 0.01, 0.9, 0.05


def _expected_alphas(mode: str, g: torch.Tensor) -> tuple[float, float]:
    if mode == "raw":
        return LR_GD, LR_SIGN
    if mode == "heavy_ball":
        return LR_GD / (1 - BETA), LR_SIGN
    return RADIUS / float(g.norm()), RADIUS / math.sqrt(int((g != 0).sum()))


def _least_squares():
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(30, 5, generator=gen, dtype=torch.float64)
    X[:, 1] *= 4.0
    y = torch.randn(30, generator=gen, dtype=torch.float64)
    w0 = torch.randn(5, generator=gen, dtype=torch.float64)
    model = nn.Linear(5, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(w0)
    return model, X, y, w0


def _half_mse(out, y):
    return 0.5 * ((out.squeeze(-1) - y) ** 2).mean()


@pytest.mark.parametrize("mode", ["raw", "heavy_ball", "radius"])
def test_probe_lengths_and_quotients_on_least_squares(mode):
    model, X, y, w0 = _least_squares()
    est = estimate_smoothness(
        model, _half_mse, make_chunks(X, y, None, 30), alpha_gd=LR_GD, alpha_sign=LR_SIGN,
        gammas=[1.0], probe_step=mode, momentum=BETA, probe_radius=RADIUS,
    )  # fmt: skip
    H = X.T @ X / 30
    g = X.T @ (X @ w0 - y) / 30
    a_gd, a_sign = _expected_alphas(mode, g)
    assert (est.alpha_gd, est.alpha_sign) == pytest.approx((a_gd, a_sign), rel=1e-12)
    assert est.probe_len_gd == pytest.approx(a_gd * float(g.norm()), rel=1e-12)
    assert est.probe_len_sign == pytest.approx(a_sign * math.sqrt(5), rel=1e-12)
    if mode == "radius":
        assert est.probe_len_gd == pytest.approx(RADIUS) and est.probe_len_sign == pytest.approx(
            RADIUS
        )
    s_sign = torch.sign(g)
    assert est.L2_hat == pytest.approx(float((H @ g).norm() / g.norm()), rel=1e-10)
    assert est.Linf_hat == pytest.approx(float((H @ s_sign).norm(1)), rel=1e-10)


class _Quartic(nn.Module):
    """f(w) = sum_i w_i^4 / 4: grad = w^3, so the quotients depend on the probe length."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x):
        return self.w.expand(x.shape[0], -1)


def _quartic_loss(out, y):
    return (out**4).sum(1).mean() / 4


@pytest.mark.parametrize("mode", ["raw", "heavy_ball", "radius"])
def test_quartic_quotients_follow_each_probe_step(mode):
    w = torch.tensor([1.0, -0.5, 2.0, 0.25], dtype=torch.float64)
    chunks = [(torch.zeros(2, 1, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))]
    est = estimate_smoothness(
        _Quartic(w), _quartic_loss, chunks, alpha_gd=LR_GD, alpha_sign=LR_SIGN, gammas=[1.0],
        probe_step=mode, momentum=BETA, probe_radius=RADIUS,
    )  # fmt: skip
    g = w**3
    a_gd, a_sign = _expected_alphas(mode, g)
    s_gd, s_sign = -a_gd * g, -a_sign * torch.sign(g)
    l2 = float(((w + s_gd) ** 3 - g).norm() / s_gd.norm())
    linf = float(((w + s_sign) ** 3 - g).norm(1) / s_sign.abs().max())
    assert est.L2_hat == pytest.approx(l2, rel=1e-12)
    assert est.Linf_hat == pytest.approx(linf, rel=1e-12)


def test_probe_step_errors_name_the_problem():
    g = torch.ones(3)
    with pytest.raises(ValueError, match="radius"):
        probe_alphas("radius", g, 0.1, 0.1, radius=None)
    with pytest.raises(ValueError, match="probe_step must be one of"):
        probe_alphas("effective", g, 0.1, 0.1)


def test_sensitivity_scales_probes_and_is_flat_on_a_quadratic():
    model, X, y, w0 = _least_squares()
    factors = [0.1, 1.0, 10.0]
    rows = probe_sensitivity(
        model, _half_mse, make_chunks(X, y, None, 30), lr_gd=LR_GD, lr_sign=LR_SIGN,
        factors=factors, gammas=[0.5, 1.0], length_factor=3.0,
    )  # fmt: skip
    assert [r["factor"] for r in rows] == [0.1, 0.1, 1.0, 1.0, 10.0, 10.0]
    g = X.T @ (X @ w0 - y) / 30
    for r in rows:
        assert r["probe_len_gd"] == pytest.approx(r["factor"] * LR_GD * float(g.norm()))
        assert r["probe_len_sign"] == pytest.approx(r["factor"] * LR_SIGN * math.sqrt(5))
        ratio = max(r["probe_len_gd"], r["probe_len_sign"]) / min(
            r["probe_len_gd"], r["probe_len_sign"]
        )
        assert r["length_ratio"] == pytest.approx(ratio)
        assert r["lengths_differ"] == (ratio > 3.0)
    # a quadratic: R_hat does not depend on the probe length
    assert max(r["R_hat"] for r in rows) == pytest.approx(min(r["R_hat"] for r in rows), rel=1e-9)


def test_spread_epochs_keeps_first_and_last():
    assert spread_epochs([0, 4, 8, 12, 16, 20], 3) == [0, 8, 20]
    assert spread_epochs([0, 4, 8, 12, 16, 20], 2) == [0, 20]
    assert spread_epochs([0, 4, 8], 1) == [8]
    assert spread_epochs([0, 4], 5) == [0, 4]
