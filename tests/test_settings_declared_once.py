"""Each setting is declared once (``signgeom.settings``): a config-keyed field has no second
default beside config.yaml, the config schema states the type, choices and range its declaration
states, and a new setting is one declaration plus its config.yaml entry."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib
import json
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import signgeom
from signgeom.config import ConfigError, load_config_files, validate_config
from signgeom.settings import Settings, declaration, declared_settings, schema_node, setting

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
SCHEMA = yaml.safe_load((REPO / "src/signgeom/config.schema.yaml").read_text())
# The schema keywords a declaration states (of the value, or of each item of a list).
RULES = ("type", "enum", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")


def _every_settings_class() -> list[type[Settings]]:
    """Every Settings subclass of the package, found by importing each of its modules."""
    for module in pkgutil.walk_packages(signgeom.__path__, "signgeom."):
        importlib.import_module(module.name)
    return declared_settings()


CLASSES = _every_settings_class()
CONFIG_FIELDS = [(cls, f) for cls in CLASSES for f in cls.config_fields()]


def _keys(f: dataclasses.Field) -> list[str]:
    """The field's config key for each configured model (one key if it names no model)."""
    key = declaration(f)["config"]
    models = CONFIG["cifar"]["models"] if "{model}" in key else [None]
    return [key.format(model=m) for m in models]


def _lookup(tree: dict, key: str):
    node = tree
    for part in key.split("."):
        assert isinstance(node, dict) and part in node, f"{key} is not in config.yaml"
        node = node[part]
    return node


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        both = isinstance(v, dict) and isinstance(out.get(k), dict)
        out[k] = _deep_merge(out[k], v) if both else v
    return out


def _resolve(node: dict) -> dict:
    """``node`` with its ``$ref`` followed and its ``allOf`` parts merged."""
    node = dict(node)
    if "$ref" in node:
        name = node.pop("$ref").removeprefix("#/definitions/")
        node = _deep_merge(_resolve(SCHEMA["definitions"][name]), node)
    for part in node.pop("allOf", []):
        node = _deep_merge(node, _resolve(part))
    return node


def _schema_node(key: str) -> dict:
    node = _resolve(SCHEMA)
    for part in key.split("."):
        props = node.get("properties", {})
        node = _resolve(props[part] if part in props else node["additionalProperties"])
    return node


def _rules(node: dict, text_enum: bool) -> dict:
    """The comparable keywords of a node (types as a set; an enum as a set, YAML booleans
    spelled as the strings a text setting turns them into)."""
    out = {k: node[k] for k in RULES if k in node}
    if "type" in out:
        out["type"] = {out["type"]} if isinstance(out["type"], str) else set(out["type"])
    if "enum" in out:
        spell = (lambda v: str(v).lower() if isinstance(v, bool) else v) if text_enum else None
        out["enum"] = {spell(v) if spell else v for v in out["enum"]}
        out.setdefault("type", {_json_type(v) for v in out["enum"]})
    if "items" in node:
        out["items"] = _rules(_resolve(node["items"]), text_enum)
    return out


def _json_type(value) -> str:
    return {str: "string", bool: "boolean", type(None): "null", int: "integer"}[type(value)]


def test_every_stage_is_found():
    names = {cls.__name__ for cls in CLASSES}
    assert {"TrainSettings", "SmoothnessSettings", "HessianSettings", "ClaimSettings"} <= names
    assert {"GridSettings", "SaddleRunsSettings", "MajoritySettings"} <= names
    assert len(CONFIG_FIELDS) > 100


@pytest.mark.parametrize(("cls", "f"), CONFIG_FIELDS, ids=lambda x: getattr(x, "name", x))
def test_no_config_keyed_field_has_a_default_other_than_config_yaml(cls, f):
    for key in _keys(f):
        value = _lookup(CONFIG, key)  # every key a field reads is in config.yaml
        if f.default is not dataclasses.MISSING:
            assert f.default == value, f"{cls.__name__}.{f.name}: {f.default!r} vs {key} {value!r}"
        assert f.default_factory is dataclasses.MISSING, f"{cls.__name__}.{f.name}"


@pytest.mark.parametrize(("cls", "f"), CONFIG_FIELDS, ids=lambda x: getattr(x, "name", x))
def test_the_schema_states_what_the_declaration_states(cls, f):
    meta = declaration(f)
    for key in _keys(f):
        node = _schema_node(key)
        if "anyOf" in node or "oneOf" in node:  # a union of shapes: its values checked in code
            assert meta["choices"] is None and not meta["bounds"], key
            continue
        declared = schema_node(cls, f)
        text = "string" in str(declared.get("type"))
        assert _rules(node, text) == _rules(declared, text), key


def test_the_comparison_sees_a_changed_bound_or_choice():
    """The schema check fails where the two differ (so the test above can fail)."""
    smooth = _schema_node("cifar.smoothness.chunk_size")
    from signgeom.estimate.estimate_settings import EstimateSettings, SmoothnessSettings

    (chunk,) = [f for f in EstimateSettings.fields() if f.name == "chunk_size"]
    assert _rules(smooth, False) == _rules(schema_node(EstimateSettings, chunk), False)
    assert _rules({**smooth, "maximum": 40000}, False) != _rules(smooth, False)
    (batched,) = [f for f in SmoothnessSettings.fields() if f.name == "batched"]
    node = _schema_node("cifar.smoothness.batched")
    assert _rules(node, True) == _rules(schema_node(SmoothnessSettings, batched), True)
    assert _rules({**node, "enum": ["auto", True]}, True) != _rules(node, True)


# --- adding a setting: one declaration plus its config.yaml entry ---------------------------


@dataclass(frozen=True, kw_only=True)
class WarmupSettings(Settings):
    """A new stage's settings, declared here and nowhere else."""

    model: str = setting(help="architecture")
    warmup_epochs: int = setting(
        config="cifar.warmup.epochs", ge=0, le=50, help="epochs of step-size warm-up"
    )
    warmup_shape: str = setting(
        config="cifar.warmup.shape", choices=("linear", "cosine"), help="warm-up curve"
    )
    warmup_until: float | None = setting(
        config="cifar.warmup.until", gt=0, lt=1, help="fraction of the run; none: epochs"
    )


def _config_with_warmup(tmp_path: Path, **warmup) -> Path:
    """A checkout-like folder whose config.yaml is the repository's plus ``cifar.warmup``."""
    config = copy.deepcopy(CONFIG)
    config["cifar"]["warmup"] = {"epochs": 5, "shape": "cosine", "until": None, **warmup}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def _parse(argv: list[str]) -> WarmupSettings:
    parser = argparse.ArgumentParser()
    WarmupSettings.add_arguments(parser)
    return WarmupSettings.from_args(parser.parse_args(argv))


def test_a_new_setting_is_one_declaration_plus_config_yaml(tmp_path, monkeypatch):
    checkout = _config_with_warmup(tmp_path)
    config = load_config_files(checkout / "config.yaml")
    # from the config
    s = WarmupSettings.from_config(config, model="cnn")
    assert (s.warmup_epochs, s.warmup_shape, s.warmup_until) == (5, "cosine", None)
    # the rule's JSON argument, back
    assert json.loads(s.to_json()) == {
        "model": "cnn",
        "warmup_epochs": 5,
        "warmup_shape": "cosine",
        "warmup_until": None,
    }
    assert WarmupSettings.from_json(s.to_json()) == s
    # the command line: flags, and the values no flag gives from the checkout's config.yaml
    monkeypatch.setattr("signgeom.workflow.checkout", lambda start=None: checkout)
    assert _parse(["--model", "cnn"]) == s
    flags = _parse(["--model", "cnn", "--warmup-epochs", "7", "--warmup-until", "0.5"])
    assert (flags.warmup_epochs, flags.warmup_shape, flags.warmup_until) == (7, "cosine", 0.5)
    assert _parse(["--settings", s.to_json(), "--warmup-shape", "linear"]).warmup_shape == "linear"
    # the config's validation: the schema's node for the new keys comes from the declaration
    validate_config(config, settings=[WarmupSettings])
    with pytest.raises(ConfigError, match="config key 'cifar.warmup': unknown key"):
        validate_config(config)  # a config key no settings class declares stays unknown


@pytest.mark.parametrize(
    ("warmup", "refusal"),
    [
        ({"epochs": 51}, r"config key 'cifar.warmup.epochs' \(WarmupSettings.warmup_epochs\): 51 "),
        ({"epochs": 2.5}, "config key 'cifar.warmup.epochs' .* must be an integer"),
        ({"shape": "step"}, r"config key 'cifar.warmup.shape' .*'step' is not one of"),
        ({"until": 1.0}, "config key 'cifar.warmup.until' .*1.0 must be < 1"),
    ],
)
def test_a_new_setting_outside_its_declaration_is_refused_naming_its_key(
    tmp_path, monkeypatch, warmup, refusal
):
    checkout = _config_with_warmup(tmp_path, **warmup)
    config = load_config_files(checkout / "config.yaml")
    with pytest.raises(ValueError, match=refusal):
        WarmupSettings.from_config(config, model="cnn")
    monkeypatch.setattr("signgeom.workflow.checkout", lambda start=None: checkout)
    with pytest.raises(ValueError, match=refusal):
        _parse(["--model", "cnn"])
    key = refusal.split("'")[1]
    with pytest.raises(ConfigError, match=f"config key '{key}'"):
        validate_config(config, settings=[WarmupSettings])


def test_a_missing_key_is_refused_naming_it(tmp_path, monkeypatch):
    config = copy.deepcopy(CONFIG)
    with pytest.raises(ValueError, match=r"'warmup_epochs': 'cifar.warmup.epochs'"):
        WarmupSettings.from_config(config, model="cnn")
    with pytest.raises(ConfigError, match="config key 'cifar': 'warmup' is a required property"):
        validate_config(config, settings=[WarmupSettings])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setattr("signgeom.workflow.checkout", lambda start=None: tmp_path)
    with pytest.raises(ValueError, match=f"cifar.warmup.epochs.*read from {tmp_path}"):
        _parse(["--model", "cnn"])

    def no_checkout(start=None):
        raise FileNotFoundError("no signgeom checkout found")

    monkeypatch.setattr("signgeom.workflow.checkout", no_checkout)
    with pytest.raises(ValueError, match="config keys .*cifar.warmup.shape.*no signgeom checkout"):
        _parse(["--model", "cnn"])
    assert _parse(["--model", "cnn", "--settings", '{"warmup_epochs": 1, "warmup_shape": '
                   '"linear", "warmup_until": null}']).warmup_epochs == 1  # fmt: skip


def test_a_config_keyed_setting_cannot_take_a_default():
    with pytest.raises(TypeError, match="config key 'cifar.x' has a default"):
        setting(3, config="cifar.x", help="x")
    with pytest.raises(TypeError, match="needs its reference value"):
        setting(config="cifar.x", identity="unless_default", help="x")
