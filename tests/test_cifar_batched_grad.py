"""Batched probe gradients (one vmapped pass) against the sequential ones, both models."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from signgeom.estimate.batched_grad import stacked_gradients, use_batched
from signgeom.estimate.fixed_objective import fixed_mode, full_gradient, make_chunks
from signgeom.estimate.smoothness import estimate_smoothness, probe_gradients
from signgeom.tasks.cifar.models import build_model

# CNN: dropout (off in the estimate), 32 x 32 inputs; ResNet20: batch norm, 8 x 8 inputs (its
# global pooling takes any size). Small chunks, uneven (3 + 2).
CASES = [
    ("cnn", 32, "batch_stats"),
    ("resnet20", 8, "batch_stats"),
    ("resnet20", 8, "running_stats"),
]
TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-4}


def _setup(model: str, side: int, dtype: torch.dtype, perturb: float = 0.02):
    """A model away from its initialisation (batch-norm weights not 1, biases not 0), data and
    running statistics that are not the defaults."""
    torch.manual_seed(0)
    net = build_model(model).to(dtype)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(perturb * torch.randn_like(p))
        for name, buf in net.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
    x = torch.randn(5, 3, side, side, dtype=dtype)
    y = torch.randint(0, 10, (5,))
    return net, make_chunks(x, y, None, 3)


@pytest.mark.parametrize("model, side, bn_mode", CASES)
def test_stacked_gradients_equal_full_gradient_at_each_point_in_fp64(model, side, bn_mode):
    net, chunks = _setup(model, side, torch.float64)
    params = list(net.parameters())
    x0 = torch.cat([p.detach().reshape(-1) for p in params])
    points = [x0, x0 + 0.01 * torch.randn_like(x0), x0 - 0.03 * torch.randn_like(x0)]
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    with fixed_mode(net, bn_mode):
        batched = stacked_gradients(net, F.cross_entropy, chunks, torch.stack(points))
        sequential = probe_gradients(net, F.cross_entropy, chunks, params, points, batched=False)
        at_x0 = full_gradient(net, F.cross_entropy, chunks, params)
    for got, want in zip(batched, sequential, strict=True):
        assert float((got - want).norm() / want.norm()) < 1e-12
    assert torch.equal(sequential[0], at_x0)  # parameters restored after the sequential path
    assert all(torch.equal(buffers[k], v) for k, v in net.named_buffers())  # stats frozen


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("model, side, bn_mode", CASES)
def test_batched_estimate_equals_the_sequential_one(model, side, bn_mode, dtype):
    net, chunks = _setup(model, side, dtype)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    kw = dict(alpha_gd=0.1, alpha_sign=1e-3, gammas=[0.5, 1.0], bn_mode=bn_mode)
    seq = estimate_smoothness(net, F.cross_entropy, chunks, **kw, batched=False)
    bat = estimate_smoothness(net, F.cross_entropy, chunks, **kw, batched=True)
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    tol = TOLERANCE[dtype]
    for name in ("phi", "L2_hat", "Linf_hat", "R_hat", "grad_norm2", "grad_norm1"):
        assert getattr(bat, name) == pytest.approx(getattr(seq, name), rel=tol), name
    assert bat.l2_per_gamma == pytest.approx(seq.l2_per_gamma, rel=tol)
    assert bat.linf_per_gamma == pytest.approx(seq.linf_per_gamma, rel=tol)
    assert dataclasses.astuple(bat)[-1] == seq.n_grad_passes == 5


def test_batched_choice_per_device():
    assert use_batched("true", torch.device("cpu")) and not use_batched(
        "false", torch.device("cpu")
    )
    assert use_batched("auto", torch.device("cpu")) is False  # measured slower on this CPU
    with pytest.raises(ValueError, match="batched must be one of"):
        use_batched("yes", torch.device("cpu"))
