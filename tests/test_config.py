"""Config validation: the shipped configs pass; each kind of mistake names its key."""

import copy

import pytest
import yaml

from signgeom.config import ConfigError, validate_config
from signgeom.workflow import REPO


def merged(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and key in out else value
    return out


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_shipped_configs_are_valid(config):
    validate_config(config)
    for preset in (REPO / "presets").glob("*.yaml"):
        validate_config(merged(config, yaml.safe_load(preset.read_text())))


@pytest.mark.parametrize(
    "edit, key",
    [
        (
            lambda c: c["cifar"]["models"].update(vgg16=c["cifar"]["models"]["cnn"]),
            "cifar.models.vgg16",
        ),
        (
            lambda c: c["cifar"]["models"]["cnn"]["step_sizes"].update(lion=[1e-4]),
            "cifar.models.cnn.step_sizes.lion",
        ),
        (
            lambda c: c["cifar"]["models"]["cnn"]["step_sizes"].update(sgd=[-0.1]),
            "cifar.models.cnn.step_sizes.sgd.0",
        ),
        (
            lambda c: c["cifar"]["models"]["cnn"].update(selection_epoch=500),
            "cifar.models.cnn.selection_epoch",
        ),
        (lambda c: c["cifar"]["smoothness"].update(reduction="mean"), "cifar.smoothness.reduction"),
        (
            lambda c: c["cifar"]["data"].update(source="local", local_dir=None),
            "cifar.data.local_dir",
        ),
        (lambda c: c["quadratic"].update(family="flat"), "quadratic.family"),
        (lambda c: c["quadratic"]["lambda_ratio"].update(max=12.0), "quadratic.lambda_ratio.max"),
        (lambda c: c["resources"].update(gpus=1), "resources.gpus"),
        (lambda c: c["cifar"]["hessian"].update(n_probes=1), "cifar.hessian.n_probes"),
        (lambda c: c["cifar"]["hessian"].update(n_examples=10**6), "cifar.hessian.n_examples"),
        (lambda c: c["cifar"]["hessian"].update(models=["vgg16"]), "cifar.hessian.models"),
    ],
)
def test_errors_name_the_key(config, edit, key):
    edit(config)
    with pytest.raises(ConfigError, match=f"config key '{key}'"):
        validate_config(config)
