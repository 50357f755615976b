"""The estimators' settings (``signgeom.estimate.estimate_settings``): declared once, they give the
config lookup, the rule's JSON argument and the CLIs' flags; README "Adding a training setting"
(and its estimator line): a new estimator setting is one field (plus its config and schema
entries; docs "Declaring a setting")."""

from __future__ import annotations

import argparse
import copy
import json
from dataclasses import dataclass, fields

import pytest

from settings_helpers import another_valid_value
from signgeom.estimate import hessian, sensitivity, smoothness
from signgeom.estimate.estimate_settings import (
    HessianSettings,
    SensitivitySettings,
    SmoothnessSettings,
)
from signgeom.settings import setting

JOB = dict(model="cnn", trajectory_optimizer="sgd")
PER_JOB = {SmoothnessSettings: {**JOB, "shard": 2}, SensitivitySettings: JOB, HessianSettings: JOB}
# Fields without a config key: per-job values, and the probes' estimation set (derived).
UNCONFIGURED = {
    SmoothnessSettings: {*JOB, "architecture", "n_examples", "shard", "rotated_coordinates"},
    SensitivitySettings: {*JOB, "architecture", "n_examples"},
    HessianSettings: {*JOB, "architecture", "rotated_coordinates"},
}


@dataclass(frozen=True, kw_only=True)
class WithProbeNoise(SmoothnessSettings):
    """A smoothness setting added as the README says: one field with its config key."""

    probe_noise: float = setting(
        config="cifar.smoothness.probe_noise", ge=0, help="noise added to the probe directions"
    )


def _parse(cls: type, argv: list[str]):
    parser = argparse.ArgumentParser()
    cls.add_arguments(parser)
    return cls.from_args(parser.parse_args(argv))


def test_a_new_smoothness_setting_reaches_the_json_the_flags_and_from_config(config):
    plain = SmoothnessSettings.from_config(config, **PER_JOB[SmoothnessSettings])
    with pytest.raises(ValueError, match="'cifar.smoothness.probe_noise'"):
        WithProbeNoise.from_config(config, **PER_JOB[SmoothnessSettings])
    config["cifar"]["smoothness"]["probe_noise"] = 0.25
    noisy = WithProbeNoise.from_config(config, **PER_JOB[SmoothnessSettings])
    assert noisy.probe_noise == 0.25
    assert json.loads(noisy.to_json()) == {**json.loads(plain.to_json()), "probe_noise": 0.25}
    assert WithProbeNoise.from_json(noisy.to_json()) == noisy
    assert _parse(WithProbeNoise, ["--settings", plain.to_json(), "--probe-noise", "0.25"]) == noisy
    assert _parse(WithProbeNoise, ["--settings", noisy.to_json()]) == noisy
    paths = ["--run-dir", "r", "--data-dir", "d", "--step-sizes", "s.csv", "--out", "o.csv"]
    parser = smoothness.probe_parser(WithProbeNoise, "smoothness with a new setting")
    args = parser.parse_args(["--settings", plain.to_json(), "--probe-noise", "0.25", *paths])
    assert WithProbeNoise.from_args(args) == noisy
    smoothness.probe_parser(SmoothnessSettings, "").parse_args(paths)
    with pytest.raises(SystemExit):  # the plain CLI has no such flag
        smoothness.probe_parser(SmoothnessSettings, "").parse_args([*paths, "--probe-noise", "1"])


@pytest.mark.parametrize("cls", [SmoothnessSettings, SensitivitySettings, HessianSettings])
def test_from_config_reads_every_configured_field(config, cls):
    """Each field with a config key takes that key's value (a changed key changes the rule's
    JSON argument, so the job reruns)."""
    valid = {"micro_batch": "64"}  # checked in EstimateSettings.__post_init__
    base = cls.from_config(config, **PER_JOB[cls])
    unconfigured = {f.name for f in fields(cls) if f.metadata["signgeom"]["config"] is None}
    assert unconfigured == UNCONFIGURED[cls]
    for f in fields(cls):
        key = f.metadata["signgeom"]["config"]
        if key is None:
            continue
        value = valid.get(f.name) or another_valid_value(cls, f, getattr(base, f.name))
        changed = copy.deepcopy(config)
        *parents, last = key.format(**PER_JOB[cls]).split(".")
        node = changed
        for part in parents:
            node = node[part]
        node[last] = value
        got = cls.from_config(changed, **PER_JOB[cls])
        want = tuple(value) if isinstance(value, list) else value
        assert getattr(got, f.name) == want, f.name
        assert got.to_json() != base.to_json(), f.name


def test_the_estimation_set_and_the_per_job_values(config):
    config["cifar"]["data"]["train_limit"] = 900
    config["cifar"]["smoothness"].update(n_examples=None, batched=True, gammas=[1, 2])
    config["cifar"]["hessian"]["n_examples"] = 40
    config["seed"] = 5
    s = SmoothnessSettings.from_config(config, **JOB, shard="3", rotated_coordinates=True)
    assert (s.n_examples, s.shard, s.rotated_coordinates, s.batched) == (900, 3, True, "true")
    assert s.gammas == (1.0, 2.0) and json.loads(s.to_json())["gammas"] == [1.0, 2.0]
    config["cifar"]["smoothness"]["n_examples"] = 100
    assert SensitivitySettings.from_config(config, **JOB).n_examples == 100
    h = HessianSettings.from_config(config, **JOB)
    assert (h.n_examples, h.seed, h.model, h.trajectory_optimizer) == (40, 5, "cnn", "sgd")
    with pytest.raises(ValueError, match="config key 'cifar.smoothness.gammas' .* must be a list"):
        SmoothnessSettings.from_config(config, **JOB, gammas=0.5)


@pytest.mark.parametrize(
    ("module", "cls", "paths"),
    [
        (smoothness, SmoothnessSettings, {"step_sizes": "s.csv", "out": "o.csv"}),
        (sensitivity, SensitivitySettings, {"step_sizes": "s.csv", "out": "o.csv"}),
        (hessian, HessianSettings, {"out": "e.csv", "out_blocks": "b.csv", "out_density": "d.csv"}),
    ],
)
def test_each_cli_passes_the_rules_settings_and_paths_to_its_function(
    config, monkeypatch, module, cls, paths
):
    """What the rule writes (``--settings JSON`` plus paths) reaches the library function; a
    flag next to the JSON overrides it."""
    calls = []
    entry = "sensitivity_run" if module is sensitivity else "estimate_run"
    monkeypatch.setattr(module, entry, lambda settings, **kw: calls.append((settings, kw)))
    settings = cls.from_config(config, **PER_JOB[cls])
    argv = ["--settings", settings.to_json(), "--run-dir", "r", "--data-dir", "d"]
    argv += [a for k, v in paths.items() for a in ("--" + k.replace("_", "-"), v)]
    module.main(argv)
    module.main([*argv, "--precision", "fp64", "--n-examples", "64"])
    expected_paths = {"run_dir": "r", "data_dir": "d", **paths}
    assert calls[0] == (settings, expected_paths)
    overridden = calls[1][0]
    assert (overridden.precision, overridden.n_examples) == ("fp64", 64)
    assert overridden.as_dict() == {**settings.as_dict(), "precision": "fp64", "n_examples": 64}


def test_hessian_precision_is_its_own_key_or_the_smoothness_precision(config):
    """cifar.hessian.precision chooses the Hessian stage's precision; null follows
    cifar.smoothness.precision (the smoothness jobs never read the Hessian's key)."""
    from signgeom.config import ConfigError, validate_config

    per_job = dict(model="cnn", trajectory_optimizer="sgd")
    config = copy.deepcopy(config)
    config["cifar"]["smoothness"]["precision"] = "fp64"
    config["cifar"]["hessian"]["precision"] = None
    assert HessianSettings.from_config(config, **per_job).precision == "fp64"
    config["cifar"]["hessian"]["precision"] = "fp32"
    assert HessianSettings.from_config(config, **per_job).precision == "fp32"
    assert SmoothnessSettings.from_config(config, **per_job).precision == "fp64"
    config["cifar"]["hessian"]["precision"] = "fp16"
    with pytest.raises(ConfigError, match="config key 'cifar.hessian.precision': 'fp16' is not"):
        validate_config(config)
