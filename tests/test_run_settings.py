"""A training run's settings (``signgeom.training.run_settings``): declared once, they give the
config lookup, the JSON argument, the command-line flags and the run identity; a new setting is
one field (plus its config and schema entries; docs "Declaring a setting")."""

from __future__ import annotations

import argparse
import copy
import json
from dataclasses import dataclass, fields

import pytest

from settings_helpers import another_valid_value
from signgeom.settings import setting
from signgeom.training.run_settings import TrainSettings
from signgeom.training.runid import run_key_pattern, run_path

RUN = dict(model="cnn", optimizer="sgd", lr=0.01, seed=0)


@dataclass(frozen=True, kw_only=True)
class WithWarmup(TrainSettings):
    """A training setting added as the README says: one field with its config key."""

    warmup_epochs: int = setting(
        config="cifar.warmup_epochs",
        ge=0,
        identity="unless_default",
        identity_default=0,
        help="epochs of linear step-size warm-up",
    )


@dataclass(frozen=True, kw_only=True)
class WithLabelSmoothing(TrainSettings):
    """The same, as a setting that enters every run's identity."""

    label_smoothing: float = setting(
        config="cifar.label_smoothing", ge=0, lt=1, help="cross-entropy label smoothing"
    )


def _parse(cls: type[TrainSettings], argv: list[str]) -> TrainSettings:
    parser = argparse.ArgumentParser()
    cls.add_arguments(parser)
    return cls.from_args(parser.parse_args(argv))


def test_a_new_setting_reaches_the_json_the_identity_and_the_flags(config):
    plain = TrainSettings.from_config(config, **RUN)
    with pytest.raises(ValueError, match=r"config keys \{'warmup_epochs': 'cifar.warmup_epochs'"):
        WithWarmup.from_config(config, **RUN)  # no default: the key must be in the config
    config["cifar"]["warmup_epochs"] = 5
    warm = WithWarmup.from_config(config, **RUN)
    assert warm.warmup_epochs == 5
    assert json.loads(warm.to_json())["warmup_epochs"] == 5
    assert WithWarmup.from_json(warm.to_json()) == warm
    assert warm.identity() == {**plain.identity(), "warmup_epochs": 5}
    assert warm.run_id() != plain.run_id()
    at_default = WithWarmup.from_config(
        {**config, "cifar": {**config["cifar"], "warmup_epochs": 0}}, **RUN
    )
    assert at_default.run_key() == plain.run_key()  # every existing run keeps its directory
    assert _parse(WithWarmup, ["--settings", plain.to_json(), "--warmup-epochs", "5"]) == warm
    assert _parse(WithWarmup, ["--settings", warm.to_json()]) == warm


def test_a_new_identity_setting_changes_every_run_id(config):
    plain = TrainSettings.from_config(config, **RUN)
    config["cifar"]["label_smoothing"] = 0.0
    smooth = WithLabelSmoothing.from_config(config, **RUN)
    assert smooth.label_smoothing == 0.0 and smooth.run_id() != plain.run_id()
    config["cifar"]["label_smoothing"] = 0.1
    assert WithLabelSmoothing.from_config(config, **RUN).run_id() != smooth.run_id()
    flags = ["--settings", smooth.to_json(), "--label-smoothing", "0.1"]
    assert _parse(WithLabelSmoothing, flags).label_smoothing == 0.1


def test_the_training_cli_has_one_flag_per_field_and_reads_the_rules_argument(config):
    from signgeom.training.train import build_parser

    parser = build_parser()
    dests = {a.dest for a in parser._actions}
    assert {f.name for f in fields(TrainSettings)} <= dests
    settings = TrainSettings.from_config(config, **RUN, rotation_theta=0.5)
    args = parser.parse_args(
        ["--settings", settings.to_json(), "--batches-dir", "d"] + ["--out-dir", "o"]
    )
    assert TrainSettings.from_args(args) == settings
    flags = ["--model", "cnn", "--optimizer", "sgd", "--lr", "0.01", "--seed", "0"]
    flags += ["--epochs", "2", "--train-limit", "none", "--deterministic", "false"]
    flags += ["--snapshot-schedule", "[0, 2]", "--batches-dir", "d", "--out-dir", "o"]
    by_flags = TrainSettings.from_args(parser.parse_args(flags))
    # the flags not given come from the checkout's config.yaml
    changed = dict(epochs=2, train_limit=None, deterministic=False, snapshot_schedule=[0, 2])
    assert by_flags == TrainSettings.from_config(config, **RUN, **changed)
    assert by_flags.train_limit is None


def test_values_are_cast_to_the_declared_types_or_refused(config):
    s = TrainSettings.from_config(
        config, model="cnn", optimizer="sgd", lr="1e-05", seed="3", epochs=2, divergence_factor=10
    )
    assert (s.lr, s.seed, s.divergence_factor) == (1e-05, 3, 10.0)
    assert isinstance(s.divergence_factor, float) and isinstance(s.seed, int)
    for bad, match in [
        ({"epochs": 2.5}, r"config key 'cifar.models.cnn.epochs' .* must be an integer"),
        ({"compile": "true"}, r"config key 'cifar.training.compile' .* must be true or false"),
        ({"momentum": 1.0}, r"config key 'cifar.momentum' \(TrainSettings.momentum\): 1.0 must"),
        ({"precision": "fp16"}, r"'cifar.training.precision' .*'fp16' is not one of"),
        ({"lr": -1.0}, r"setting 'lr': -1.0 must be > 0"),
    ]:
        with pytest.raises(ValueError, match=match):
            TrainSettings.from_config(config, **{**RUN, "epochs": 2, **bad})
    with pytest.raises(ValueError, match=r"unknown TrainSettings fields \['warmup'\]"):
        TrainSettings.from_mapping({**RUN, "epochs": 1, "warmup": 3})
    without_epochs = {k: v for k, v in s.as_dict().items() if k != "epochs"}
    missing = r"needs values for \['epochs'\] \(config keys \{'epochs': 'cifar.models.cnn.epochs'"
    with pytest.raises(ValueError, match=missing):
        TrainSettings.from_json(json.dumps(without_epochs))


def test_the_rules_paths_come_from_the_run_key(config):
    """The rule's wildcard pattern, filled with a run's values, is that run's key."""
    for theta in (0.0, 0.5):
        settings = TrainSettings.from_config(config, **RUN, rotation_theta=theta)
        wildcards = dict(RUN, lr="0.01", theta=str(theta), run_id=settings.run_id())
        pattern = run_key_pattern(rotated=theta != 0)
        assert pattern.format(**wildcards) == settings.run_key()
        assert ("_theta0.5_" in settings.run_key()) == (theta != 0)
    key = settings.run_key()
    assert run_path("results/cifar", key) == f"results/cifar/runs/{key}"


def test_from_config_reads_every_configured_field(config):
    """Each field with a config key takes that key's value (a changed key shows up)."""
    rotated = {**RUN, "rotation_theta": 0.5}
    base = TrainSettings.from_config(config, **rotated)
    for f in fields(TrainSettings):
        key = f.metadata["signgeom"]["config"]
        if key is None:
            continue
        value = another_valid_value(TrainSettings, f, getattr(base, f.name))
        changed = copy.deepcopy(config)
        *parents, last = key.format(**rotated).split(".")
        node = changed
        for part in parents:
            node = node[part]
        node[last] = value
        assert getattr(TrainSettings.from_config(changed, **rotated), f.name) == value, f.name


def test_a_model_entry_names_its_network_and_batch_size(config):
    """``cifar.models.<name>.architecture`` / ``.batch_size`` set the network and minibatch;
    the run keeps the entry's name (its directory and rows), and naming a CIFAR model's own
    network changes no run id."""
    plain = TrainSettings.from_config(config, **RUN)
    assert plain.network == "cnn" and plain.batch_size == config["cifar"]["batch_size"]
    config["cifar"]["models"]["cnn"]["architecture"] = "cnn"
    assert TrainSettings.from_config(config, **RUN).run_id() == plain.run_id()
    entry = {**config["cifar"]["models"]["cnn"], "architecture": "transformer-tiny"}
    config["cifar"]["models"]["lm-b8"] = {**entry, "batch_size": 8}
    config["cifar"]["models"]["lm-b64"] = {**entry, "batch_size": 64}
    small, large = (
        TrainSettings.from_config(config, **{**RUN, "model": m}) for m in ("lm-b8", "lm-b64")
    )
    assert (small.network, small.batch_size, large.batch_size) == ("transformer-tiny", 8, 64)
    assert small.identity()["architecture"] == "transformer-tiny"
    assert small.run_key().startswith("lm-b8/sgd/") and small.run_id() != large.run_id()
    # the rule's argument names the network only where it is not the model's own name, so the
    # arguments of the CIFAR jobs (and Snakemake's params rerun trigger) are as before the key
    assert "architecture" not in plain.to_json() and '"architecture":"transformer-tiny"' in (
        small.to_json()
    )
    assert TrainSettings.from_json(small.to_json()) == small
    assert TrainSettings.from_json(plain.to_json()) == plain
    with pytest.raises(ValueError, match="needs values for"):  # no such entry: no epochs
        TrainSettings.from_config(config, **{**RUN, "model": "absent"})
