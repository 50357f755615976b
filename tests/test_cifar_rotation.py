"""Training in rotated coordinates: the rotations, the optimizer wrapper (SGD invariant,
signSGD not), signGD on a diagonal quadratic, the smoothness estimate in rotated coordinates
and the run identity."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from settings_helpers import unit_settings
from signgeom.config import ConfigError, validate_config
from signgeom.estimate.fixed_objective import make_chunks
from signgeom.estimate.smoothness import estimate_smoothness, gradient_density
from signgeom.norms import exact_inf_to_one_norm
from signgeom.quadratic.hessians import haar_rotation
from signgeom.training.optimizers import OPTIMIZERS, SGDMomentum, SignSGDMomentum, build_optimizer
from signgeom.training.rotation import (
    BlockRotation,
    RotatedOptimizer,
    build_rotated_optimizer,
    name_seed,
    rotation_power,
)
from signgeom.training.run_settings import TrainSettings
from signgeom.training.runid import run_dir_name
from signgeom.training.train import train_run

REPO = Path(__file__).resolve().parents[1]
ROUNDING = 1e-12  # fp64 checks: relative tolerance after a few steps / one estimate


@pytest.mark.parametrize("k", [2, 5, 8])
def test_fractional_power_is_orthogonal_with_the_right_ends_and_adds_exponents(k):
    q = haar_rotation(k, name_seed(3, "layer.weight"))
    for theta in [0.0, 0.3, 0.7, 1.0]:
        r = rotation_power(k, theta, 3, "layer.weight")
        assert np.allclose(r @ r.T, np.eye(k), atol=ROUNDING)
        assert np.linalg.det(r) == pytest.approx(1.0, abs=ROUNDING)
    assert np.array_equal(rotation_power(k, 0.0, 3, "layer.weight"), np.eye(k))
    assert np.allclose(rotation_power(k, 1.0, 3, "layer.weight"), q, atol=ROUNDING)
    for a, b in [(0.2, 0.3), (0.5, 0.5), (0.25, 0.6)]:  # a + b <= 1: angles stay in (-pi, pi)
        product = rotation_power(k, a, 3, "layer.weight") @ rotation_power(k, b, 3, "layer.weight")
        assert np.allclose(product, rotation_power(k, a + b, 3, "layer.weight"), atol=1e-10)
    assert not np.allclose(rotation_power(k, 0.5, 3, "layer.weight"), np.eye(k), atol=1e-3)


def test_rotation_seeds_are_stable_across_processes_and_differ_by_name_and_seed():
    code = "from signgeom.training.rotation import name_seed; print(name_seed(3, 'layer.weight'))"
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert int(out.stdout) == name_seed(3, "layer.weight")
    assert len({name_seed(3, "a"), name_seed(3, "b"), name_seed(4, "a")}) == 3
    assert not np.allclose(rotation_power(4, 1.0, 3, "a"), rotation_power(4, 1.0, 3, "b"))


def test_block_rotation_is_an_isometry_with_padding_and_shared_blocks():
    rot = BlockRotation([("w", 7), ("b", 3)], 0.8, 4, 0, torch.float64)
    assert rot.rotated_dim == 8 + 4
    x = torch.randn(10, dtype=torch.float64)
    y = rot.to_rotated(x)
    assert float(y.norm()) == pytest.approx(float(x.norm()), rel=ROUNDING)
    assert torch.allclose(rot.from_rotated(y), x, atol=ROUNDING)
    q = rot.matrices[0]  # both blocks of "w" use the same Q^theta
    padded = torch.cat([x[:7], torch.zeros(1, dtype=torch.float64)])
    assert torch.allclose(y[:8], torch.cat([q @ padded[:4], q @ padded[4:]]), atol=ROUNDING)


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()


def _trajectory(opt_factory, steps: int = 6) -> list[torch.Tensor]:
    """Parameters of a fixed MLP after each of ``steps`` full-batch steps."""
    net = _mlp()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(32, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (32,), generator=gen)
    opt = opt_factory(net)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        out.append(torch.cat([p.detach().reshape(-1) for p in net.parameters()]).clone())
    return out


def _rotated(name: str, lr: float, theta: float, block_size: int = 4):
    return lambda net: build_rotated_optimizer(
        name, list(net.named_parameters()), lr, 0.9, theta, block_size, seed=0
    )


@pytest.mark.parametrize("theta", [0.3, 1.0])
def test_sgd_momentum_is_rotation_invariant_and_signsgd_is_not(theta):
    plain = _trajectory(lambda net: build_optimizer("sgd", net.parameters(), lr=0.5))
    rotated = _trajectory(_rotated("sgd", 0.5, theta))
    moved = float((plain[-1] - plain[0]).norm())
    for a, b in zip(plain, rotated, strict=True):
        assert float((a - b).norm()) <= ROUNDING * moved
    plain_sign = _trajectory(lambda net: build_optimizer("signsgd", net.parameters(), lr=0.01))
    rotated_sign = _trajectory(_rotated("signsgd", 0.01, theta))
    assert float((plain_sign[-1] - rotated_sign[-1]).norm()) > 1e-3


def test_theta_zero_is_the_plain_optimizer_bit_for_bit():
    net = _mlp()
    opt = build_rotated_optimizer("signsgd", list(net.named_parameters()), 0.01, 0.9, 0.0, 4, 0)
    assert type(opt) is SignSGDMomentum
    plain = _trajectory(lambda net: build_optimizer("signsgd", net.parameters(), lr=0.01))
    zero = _trajectory(_rotated("signsgd", 0.01, 0.0))
    assert all(torch.equal(a, b) for a, b in zip(plain, zero, strict=True))


def test_rotated_state_dict_resumes_bit_for_bit():
    net = _mlp()
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 5, generator=gen, dtype=torch.float64), torch.randint(0, 3, (16,))

    def steps(net, opt, n):
        for _ in range(n):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

    opt = _rotated("adam", 0.01, 0.6)(net)
    steps(net, opt, 2)
    saved_net = {k: v.clone() for k, v in net.state_dict().items()}
    saved_opt = copy.deepcopy(opt.state_dict())
    steps(net, opt, 3)
    again = _mlp(seed=5)
    again.load_state_dict(saved_net)
    opt2 = _rotated("adam", 0.01, 0.6)(again)
    opt2.load_state_dict(saved_opt)
    steps(again, opt2, 3)
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), again.parameters(), strict=True))


class _Quadratic(nn.Module):
    """``f(w) = w^T H w / 2`` through a (constant) forward, for the optimizers."""

    def __init__(self, w0: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w0.clone())

    def loss(self, h: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.w @ h @ self.w


def _rotation_matrix(rot: BlockRotation) -> torch.Tensor:
    """``R`` (rotated_dim x d) as a dense matrix, column by column."""
    d = sum(rot.sizes)
    return torch.stack([rot.to_rotated(e) for e in torch.eye(d, dtype=torch.float64)], dim=1)


def test_signgd_on_a_diagonal_quadratic_plain_closed_form_and_rotated_progress():
    d, k, lr, steps = 8, 4, 2.0**-6, 5
    h_diag = torch.tensor([1.0, 2.0, 4.0, 8.0, 0.5, 3.0, 6.0, 1.5], dtype=torch.float64)
    h = torch.diag(h_diag)
    w0 = torch.tensor([1.0, -2.0, 0.5, -1.0, 3.0, -0.75, 2.0, -1.5], dtype=torch.float64)

    # theta = 0: signGD (momentum 0) moves every coordinate by lr towards 0 (no sign flips).
    quad = _Quadratic(w0)
    opt = build_rotated_optimizer("signsgd", list(quad.named_parameters()), lr, 0.0, 0.0, k, 0)
    for _ in range(steps):
        opt.zero_grad()
        quad.loss(h).backward()
        opt.step()
    assert torch.equal(quad.w.detach(), w0 - steps * lr * torch.sign(w0))

    # theta = 1: the rotated Hessian's blocks R H R^T have a larger ||.||_inf,1 ...
    quad = _Quadratic(w0)
    opt = build_rotated_optimizer("signsgd", list(quad.named_parameters()), lr, 0.0, 1.0, k, 0)
    assert isinstance(opt, RotatedOptimizer)
    r = _rotation_matrix(opt.rotation)
    h_rot = r @ h @ r.T
    blocks = [h_rot[i : i + k, i : i + k].numpy() for i in range(0, d, k)]
    plain_blocks = [h[i : i + k, i : i + k].numpy() for i in range(0, d, k)]
    rotated_norms = exact_inf_to_one_norm(np.stack(blocks))
    plain_norms = exact_inf_to_one_norm(np.stack(plain_blocks))
    assert np.allclose(plain_norms, [15.0, 11.0])  # diagonal: the trace of each block
    assert np.all(rotated_norms > plain_norms + 1e-3)
    # ... and one signGD step decreases f by exactly lr ||R g||_1 - lr^2/2 s^T (R H R^T) s,
    # s = sign(R g): the update is R^T s in the original coordinates.
    for _ in range(steps):
        w = quad.w.detach().clone()
        g_rot = r @ (h @ w)
        s = torch.sign(g_rot)
        predicted = lr * g_rot.abs().sum() - 0.5 * lr**2 * s @ h_rot @ s
        before = float(quad.loss(h).detach())
        opt.zero_grad()
        quad.loss(h).backward()
        opt.step()
        assert before - float(quad.loss(h).detach()) == pytest.approx(float(predicted), rel=1e-10)
        assert torch.allclose(quad.w.detach(), w - lr * r.T @ s, atol=ROUNDING)


def _half_mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((out.squeeze(-1) - y) ** 2).mean()


@pytest.mark.parametrize("theta", [0.5, 1.0])
def test_smoothness_in_rotated_coordinates_matches_the_rotated_hessian(theta):
    gen = torch.Generator().manual_seed(0)
    n, p, k = 40, 6, 4  # one tensor of 6 entries: blocks of 4, the second one padded
    X = torch.randn(n, p, generator=gen, dtype=torch.float64)
    X[:, 0] *= 5.0
    y = torch.randn(n, generator=gen, dtype=torch.float64)
    model = nn.Linear(p, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, p, generator=gen, dtype=torch.float64))
    w0 = model.weight.detach().flatten().clone()
    chunks = make_chunks(X, y, n, 16)
    rot = BlockRotation([("weight", p)], theta, k, 7, torch.float64)
    kw = dict(alpha_gd=0.3, alpha_sign=0.01, gammas=[0.5, 1.0])
    est = estimate_smoothness(model, _half_mse, chunks, rotation=rot, **kw)
    plain = estimate_smoothness(model, _half_mse, chunks, **kw)

    r = _rotation_matrix(rot)
    H = X.T @ X / n
    g = X.T @ (X @ w0 - y) / n
    h_rot, g_rot = r @ H @ r.T, r @ g
    s_sign = -0.01 * torch.sign(g_rot)
    Linf = float((h_rot @ s_sign).norm(1) / s_sign.abs().max())
    phi = gradient_density(g_rot)
    assert est.d == 8 and phi == pytest.approx(float(g_rot.abs().sum() ** 2 / (8 * g @ g)))
    assert est.Linf_hat == pytest.approx(Linf, rel=1e-12)
    assert est.phi == pytest.approx(phi, rel=1e-12)
    assert est.L2_hat == pytest.approx(plain.L2_hat, rel=1e-12)  # L2 is rotation invariant
    assert est.R_hat == pytest.approx(phi * 8 * plain.L2_hat / Linf, rel=1e-12)
    assert est.Linf_hat != pytest.approx(plain.Linf_hat, rel=1e-3)
    assert torch.equal(model.weight.detach().flatten(), w0)


FIELDS = {  # a paper-scale run (config.yaml at the time rotations were added)
    "model": "cnn",
    "optimizer": "sgd",
    "lr": 0.01,
    "seed": 0,
    "batch_size": 1000,
    "momentum": 0.9,
    "train_limit": None,
    "test_limit": None,
    "divergence_factor": 10.0,
    "augmentation": "none",
    "precision": "bf16",
    "deterministic": False,
    "channels_last": True,
    "compile": False,
}


def test_plain_run_ids_are_unchanged_and_rotated_ones_name_theta_and_block_size():
    assert run_dir_name(FIELDS) == "lr0.01_seed0_b913755982"
    plain = unit_settings(
        TrainSettings, **FIELDS, epochs=1, rotation_block_size=64
    )  # theta 0: no rotation
    assert plain.identity() == FIELDS and plain.rotation_block_size is None
    assert plain.run_key() == f"cnn/sgd/{run_dir_name(FIELDS)}"
    rotated = unit_settings(
        TrainSettings, **FIELDS, epochs=1, rotation_theta=0.5, rotation_block_size=64
    )
    assert rotated.identity() == {**FIELDS, "rotation_theta": 0.5, "rotation_block_size": 64}
    assert rotated.run_id() != plain.run_id()
    other_blocks = unit_settings(
        TrainSettings, **FIELDS, epochs=1, rotation_theta=0.5, rotation_block_size=32
    )
    assert other_blocks.run_id() != rotated.run_id()
    full = unit_settings(
        TrainSettings, **FIELDS, epochs=1, rotation_theta=1.0, rotation_block_size=64
    )
    assert full.run_id() != rotated.run_id()
    assert rotated.run_key() == f"cnn/sgd/lr0.01_seed0_theta0.5_{rotated.run_id()}"


def test_sgd_classes_stay_the_inner_optimizers():
    net = _mlp()
    for name, cls in [("sgd", SGDMomentum), ("signsgd", SignSGDMomentum)]:
        opt = build_rotated_optimizer(name, list(net.named_parameters()), 0.1, 0.9, 0.5, 4, 0)
        assert type(opt.inner) is cls
        assert all(v.shape[1] == 4 for v in opt.shadow)


DATA = REPO / "data/cifar10-subset/cifar-10-batches-py"


@pytest.mark.skipif(not DATA.is_dir(), reason="bundled CIFAR subset missing")
def test_a_rotated_run_records_its_rotation_and_resumes_bit_for_bit(tmp_path):
    tiny = dict(model="cnn", optimizer="signsgd", lr=1e-3, seed=1, batch_size=25)
    tiny |= dict(train_limit=50, test_limit=20, device="cpu")
    tiny |= dict(rotation_theta=0.5, rotation_block_size=16)

    def train(epochs: int, out_dir: Path) -> dict:
        return train_run(
            unit_settings(TrainSettings, **tiny, epochs=epochs), batches_dir=DATA, out_dir=out_dir
        )

    straight = train(2, tmp_path / "straight")
    train(1, tmp_path / "resumed")
    resumed = train(2, tmp_path / "resumed")
    assert straight["rotation_theta"] == 0.5 and straight["rotation_block_size"] == 16
    columns = ["epoch", "train_loss", "test_acc"]
    a = pd.read_csv(tmp_path / "straight/metrics.csv")[columns]
    assert a.equals(pd.read_csv(tmp_path / "resumed/metrics.csv")[columns])
    assert resumed["final_train_loss"] == straight["final_train_loss"]


def test_a_registered_optimizer_gets_a_rotated_version(monkeypatch):
    from signgeom.training import optimizers

    monkeypatch.setitem(
        optimizers.OPTIMIZERS, "toy", lambda params, lr, momentum: torch.optim.SGD(params, lr=lr)
    )
    net = _mlp()
    opt = build_rotated_optimizer("toy", list(net.named_parameters()), 0.1, 0.9, 0.5, 4, 0)
    assert isinstance(opt.inner, torch.optim.SGD)
    plain = _trajectory(lambda net: torch.optim.SGD(net.parameters(), lr=0.1), steps=3)
    rotated = _trajectory(_rotated("toy", 0.1, 0.5), steps=3)
    assert torch.allclose(plain[-1], rotated[-1], rtol=0, atol=1e-12)


def _config_rotating(config: dict, name: str) -> dict:
    """``config`` with ``cifar.rotation.optimizers: [name]`` and a step-size grid for ``name``
    in every rotated model (so the optimizer is the only thing validation can object to)."""
    config = copy.deepcopy(config)
    config["cifar"]["rotation"]["optimizers"] = [name]
    for model in config["cifar"]["rotation"]["models"]:
        config["cifar"]["models"][model]["step_sizes"].setdefault(name, [1e-3])
    return config


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_allowed_under_rotation_is_itself_as_theta_goes_to_zero(config, name):
    """theta = 1e-9 and theta = 0 give the same parameters (up to the rotation's size) for every
    optimizer validation lets into cifar.rotation.optimizers; the others are refused there."""
    try:
        validate_config(_config_rotating(config, name))
    except ConfigError as err:
        assert "config key 'cifar.rotation.optimizers'" in str(err) and repr(name) in str(err)
        with pytest.raises(ValueError, match="cannot run in rotated coordinates"):
            _rotated(name, 0.01, 1e-9)(_mlp())
        return
    plain = _trajectory(lambda net: build_optimizer(name, net.parameters(), lr=0.01), steps=3)
    nearly = _trajectory(_rotated(name, 0.01, 1e-9), steps=3)
    moved = float((plain[-1] - plain[0]).norm())
    assert moved > 1e-3
    for a, b in zip(plain, nearly, strict=True):
        assert float((a - b).norm()) <= 1e-6 * moved


def test_a_rotation_sweep_without_theta_zero_is_refused(config):
    config["cifar"]["rotation"]["thetas"] = [0.5, 1.0]
    with pytest.raises(ConfigError, match=r"'cifar\.rotation\.thetas': \[0\.5, 1\.0\] lacks 0"):
        validate_config(config)
