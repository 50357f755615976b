"""README "Extending": one registry entry makes a new model, optimizer or spectrum family
usable; each is registered here as a toy entry (monkeypatched) and exercised end to end."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from settings_helpers import unit_settings
from signgeom.config import ConfigError, validate_config
from signgeom.quadratic.hessians import SPECTRUM_FAMILIES, hessian_for_cell
from signgeom.tasks.cifar.models import MODELS
from signgeom.training.optimizers import OPTIMIZERS
from signgeom.training.run_settings import TrainSettings
from signgeom.training.train import train_run

DATA = Path(__file__).resolve().parents[1] / "data/cifar10-subset/cifar-10-batches-py"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="bundled CIFAR subset missing")
TINY_RUN = dict(lr=0.01, seed=0, epochs=1, batch_size=25, train_limit=50, test_limit=20)
TINY_RUN |= dict(device="cpu")


def toy_model(num_classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, num_classes))


def toy_spectrum(ratio: float, dim: int) -> np.ndarray:
    """dim - 1 eigenvalues 1 and one outlier x with x / mean = ratio: x = ratio (d-1)/(d-ratio)."""
    if not 1 <= ratio < dim:
        raise ValueError(f"needs 1 <= ratio < dim, got {ratio}")
    return np.r_[np.ones(dim - 1), ratio * (dim - 1) / (dim - ratio)]


def test_a_registered_model_is_accepted_by_the_config_and_trains(config, monkeypatch, tmp_path):
    config["cifar"]["models"]["toy"] = copy.deepcopy(config["cifar"]["models"]["cnn"])
    with pytest.raises(ConfigError, match="cifar.models.toy': unknown model"):
        validate_config(config)
    monkeypatch.setitem(MODELS, "toy", toy_model)
    validate_config(config)
    if not DATA.is_dir():
        pytest.skip("bundled CIFAR subset missing")
    settings = unit_settings(TrainSettings, model="toy", optimizer="sgd", **TINY_RUN)
    status = train_run(settings, batches_dir=DATA, out_dir=tmp_path)
    assert status["status"] == "completed" and status["model"] == "toy"
    snapshot = torch.load(tmp_path / "snapshots/epoch_0001.pt", weights_only=True)
    assert set(snapshot) == set(toy_model().state_dict())  # the toy's parameters were trained


@needs_data
def test_a_registered_optimizer_is_accepted_by_the_config_and_steps(config, monkeypatch, tmp_path):
    built = []

    def toy_optimizer(params, lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
        built.append((lr, momentum))
        return torch.optim.SGD(params, lr=lr)

    config["cifar"]["models"]["cnn"]["step_sizes"]["toy"] = [0.01]
    with pytest.raises(ConfigError, match="step_sizes.toy': unknown optimizer"):
        validate_config(config)
    monkeypatch.setitem(OPTIMIZERS, "toy", toy_optimizer)
    monkeypatch.setitem(MODELS, "toy", toy_model)
    validate_config(config)
    settings = unit_settings(TrainSettings, model="toy", optimizer="toy", **TINY_RUN, momentum=0.5)
    status = train_run(settings, batches_dir=DATA, out_dir=tmp_path)
    assert built == [(0.01, 0.5)] and status["optimizer"] == "toy"
    before = torch.load(tmp_path / "snapshots/epoch_0000.pt", weights_only=True)
    after = torch.load(tmp_path / "snapshots/epoch_0001.pt", weights_only=True)
    assert not torch.equal(before["1.weight"], after["1.weight"])  # it took steps


def test_a_registered_spectrum_family_is_accepted_and_builds_its_hessian(config, monkeypatch):
    config["quadratic"]["families"] = ["toy"]
    with pytest.raises(ConfigError, match="unknown spectrum family 'toy'"):
        validate_config(config)
    monkeypatch.setitem(SPECTRUM_FAMILIES, "toy", toy_spectrum)
    validate_config(config)
    dim, ratio = 6, 3.0
    h = hessian_for_cell(0.7, ratio, dim, rotation_seed=1, family="toy")
    eig = np.linalg.eigvalsh(h)
    np.testing.assert_allclose(eig, np.sort(toy_spectrum(ratio, dim)), atol=1e-12)
    assert eig.max() / eig.mean() == pytest.approx(ratio)
