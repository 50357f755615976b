"""Configuration checks that run before any job: the JSON schema, then cross-key rules.

Every problem is reported with its dotted config key, e.g.
``config key 'quadratic.theta.max': 1.5 is greater than the maximum of 1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from signgeom.quadratic.hessians import SPECTRUM_FAMILIES
from signgeom.workflow import REPO

SCHEMA_PATH = REPO / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration is invalid; the message names every offending key."""


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def schema_errors(config: dict, schema: dict) -> list[str]:
    """Messages ``config key 'a.b': <problem>`` for every schema violation."""
    validator = jsonschema.Draft202012Validator(schema)
    messages = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            for name in extra:
                messages.append(f"config key '{_key([*err.absolute_path, name])}': unknown key")
            continue
        if err.validator == "propertyNames":
            messages.append(
                f"config key '{_key([*err.absolute_path, err.instance])}': {err.message}"
            )
            continue
        messages.append(f"config key '{_key(err.absolute_path)}': {err.message}")
    return messages


def semantic_errors(config: dict) -> list[str]:
    """Rules a JSON schema cannot express (comparisons between keys)."""
    messages = []
    quad = config["quadratic"]
    dim = quad["dim"]
    if quad["family"] not in SPECTRUM_FAMILIES:
        messages.append(
            f"config key 'quadratic.family': unknown spectrum family {quad['family']!r}; "
            f"known: {sorted(SPECTRUM_FAMILIES)}"
        )
    if dim > quad["max_exact_dim"]:
        messages.append(
            f"config key 'quadratic.dim': d = {dim} is too large for the exact L_inf, which "
            f"enumerates 2^(d-1) sign vectors; the limit is quadratic.max_exact_dim = "
            f"{quad['max_exact_dim']}"
        )
    for name in ("theta", "lambda_ratio"):
        rng = quad[name]
        if rng["min"] > rng["max"]:
            messages.append(f"config key 'quadratic.{name}': min {rng['min']} > max {rng['max']}")
    if quad["lambda_ratio"]["max"] >= dim:
        messages.append(
            f"config key 'quadratic.lambda_ratio.max': lambda_max/lambda_bar must stay below "
            f"d = {dim} (got {quad['lambda_ratio']['max']})"
        )
    cifar = config["cifar"]
    if cifar["data"]["source"] == "local" and not cifar["data"].get("local_dir"):
        messages.append(
            "config key 'cifar.data.local_dir': required when cifar.data.source is local"
        )
    from signgeom.cifar.models import MODELS  # torch: imported only when the schema passed
    from signgeom.cifar.optimizers import OPTIMIZERS

    for model, spec in cifar["models"].items():
        if model not in MODELS:
            messages.append(
                f"config key 'cifar.models.{model}': unknown model; known: {sorted(MODELS)}"
            )
        for opt in spec["step_sizes"]:
            if opt not in OPTIMIZERS:
                messages.append(
                    f"config key 'cifar.models.{model}.step_sizes.{opt}': unknown optimizer; "
                    f"known: {sorted(OPTIMIZERS)}"
                )
        if spec["selection_epoch"] > spec["epochs"]:
            messages.append(
                f"config key 'cifar.models.{model}.selection_epoch': {spec['selection_epoch']} "
                f"exceeds epochs = {spec['epochs']}"
            )
    hess, smooth = cifar["hessian"], cifar["smoothness"]
    for model in hess["models"]:
        if model not in cifar["models"]:
            messages.append(
                f"config key 'cifar.hessian.models': {model!r} is not in cifar.models "
                f"({sorted(cifar['models'])})"
            )
    if hess["n_examples"] > smooth["n_examples"]:
        messages.append(
            f"config key 'cifar.hessian.n_examples': {hess['n_examples']} exceeds the smoothness "
            f"subset, cifar.smoothness.n_examples = {smooth['n_examples']}"
        )
    return messages


def validate_config(config: dict, schema_path: str | Path = SCHEMA_PATH) -> None:
    """Raise :class:`ConfigError` listing every problem of ``config``."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    messages = schema_errors(config, schema)
    if not messages:
        messages = semantic_errors(config)
    if messages:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(messages))
