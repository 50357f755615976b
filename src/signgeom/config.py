"""Configuration checks that run before any job: the JSON schema, then cross-key rules.

Every problem is reported with its dotted config key, e.g.
``config key 'quadratic.theta.max': 1.5 is greater than the maximum of 1``.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

import signgeom.quadratic.settings as qs
from signgeom.analysis.settings import ClaimSettings
from signgeom.config_files import read_config_file
from signgeom.estimate.estimate_settings import (
    HessianSettings,
    RobustnessSettings,
    SensitivitySettings,
    SmoothnessSettings,
    estimation_examples,
)
from signgeom.linf.solve import CERTIFIED_MAX_DIM
from signgeom.norms import DEFAULT_MAX_EXACT_DIM
from signgeom.quadratic.hessians import IDENTITY_PLUS_RANK, SPECTRUM_FAMILIES, family_spectrum
from signgeom.settings import Settings, declaration, declared_settings, schema_node
from signgeom.training.run_settings import TrainSettings

# Package data (pyproject.toml): the workflow (common.smk) and an installed library read this
# one file.
SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


# The jobs' settings that need no per-job value (GridSettings needs a family).
QUADRATIC_SETTINGS = (
    qs.RunsSettings,
    qs.SummarySettings,
    qs.SeparableSettings,
    qs.TwoDSettings,
    qs.TubeSettings,
    qs.SaddleRunsSettings,
    qs.NoiseDimensionSettings,
    qs.MajoritySettings,
    qs.NoiseSummarySettings,
)


class ConfigError(ValueError):
    """The configuration is invalid; the message names every offending key."""


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _yaml_number_hint(value: Any) -> str:
    """For a string that YAML 1.1 did not read as a number (``1e-2``): how to write it."""
    match = re.fullmatch(r"\s*([-+]?\d+)(?:\.(\d*))?[eE]([-+]?)(\d+)\s*", str(value))
    if not isinstance(value, str) or match is None:
        return ""
    whole, frac, sign, exp = match.groups()
    fixed = f"{whole}.{frac or '0'}e{sign or '+'}{exp}"
    return (
        f" (YAML reads {value} as a string: write {fixed}, with a decimal point and a signed "
        "exponent)"
    )


def nonfinite_errors(config: Any, path: tuple = (), skip: frozenset = frozenset()) -> list[str]:
    """Every ``.inf`` / ``.nan`` in the config (the schema's number type admits them), except
    under the key paths ``skip`` (unknown keys: their values are never walked)."""
    if path in skip:
        return []
    if isinstance(config, dict):
        return [m for k, v in config.items() for m in nonfinite_errors(v, (*path, k), skip)]
    if isinstance(config, list):
        return [m for i, v in enumerate(config) for m in nonfinite_errors(v, (*path, i), skip)]
    if isinstance(config, float) and not math.isfinite(config):
        return [f"config key '{_key(path)}': {config} is not a finite number"]
    return []


def schema_errors(config: dict, schema: dict) -> list[str]:
    """Messages ``config key 'a.b': <problem>`` for every schema violation."""
    validator = jsonschema.Draft202012Validator(schema)
    messages, unknown = [], set()
    for err in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            for name in extra:
                unknown.add((*err.absolute_path, name))
                messages.append(f"config key '{_key([*err.absolute_path, name])}': unknown key")
            continue
        if err.validator == "propertyNames":
            messages.append(
                f"config key '{_key([*err.absolute_path, err.instance])}': {err.message}"
            )
            continue
        hint = _yaml_number_hint(err.instance) if err.validator == "type" else ""
        messages.append(f"config key '{_key(err.absolute_path)}': {err.message}{hint}")
    return messages + nonfinite_errors(config, skip=frozenset(unknown))


def semantic_errors(config: dict) -> list[str]:
    """Rules a JSON schema cannot express (comparisons between keys)."""
    messages = []
    quad = config["quadratic"]
    dim = quad["dim"]
    for i, family in enumerate(quad["families"]):
        if family not in SPECTRUM_FAMILIES:
            messages.append(
                f"config key 'quadratic.families.{i}': unknown spectrum family {family!r}; "
                f"known: {sorted(SPECTRUM_FAMILIES)}"
            )
            continue
        for end in ("min", "max"):  # every family's feasible ratios form an interval
            try:
                family_spectrum(family, quad["lambda_ratio"][end], dim)
            except ValueError as err:
                messages.append(f"config key 'quadratic.lambda_ratio.{end}': {err}")
    messages += _max_exact_dim_errors(config)
    dense = [f for f in quad["families"] if f not in IDENTITY_PLUS_RANK]
    if dim > max(quad["max_exact_dim"], CERTIFIED_MAX_DIM) and dense:
        messages.append(
            f"config key 'quadratic.dim': d = {dim} is too large for the exact L_inf of the "
            f"families {dense}: it enumerates up to quadratic.max_exact_dim = "
            f"{quad['max_exact_dim']} and is certified by branch and bound up to d = "
            f"{CERTIFIED_MAX_DIM} (only the families {sorted(IDENTITY_PLUS_RANK)} have an exact "
            "L_inf at any d)"
        )
    for name in ("theta", "lambda_ratio"):
        rng = quad[name]
        if rng["min"] > rng["max"]:
            messages.append(f"config key 'quadratic.{name}': min {rng['min']} > max {rng['max']}")
    two_d = config["two_d"]
    if min(two_d["lambda_max"]) < two_d["lambda_min"]:
        messages.append(
            f"config key 'two_d.lambda_max': every value must be >= two_d.lambda_min = "
            f"{two_d['lambda_min']} (got {two_d['lambda_max']})"
        )
    saddles = config["saddles"]
    if saddles["init_radius"] > saddles["tau"]:
        messages.append(
            f"config key 'saddles.init_radius': {saddles['init_radius']} > saddles.tau = "
            f"{saddles['tau']}; the start would leave the first saddle's region of the tube"
        )
    messages += _theory_errors(config["theory"])
    res = config["resources"]
    if res["runs_per_gpu"] > 1 and res["gpu"] > 1:
        messages.append(
            f"config key 'resources.runs_per_gpu': {res['runs_per_gpu']} training jobs share "
            f"one GPU, so resources.gpu must be 0 or 1 (got {res['gpu']})"
        )
    cifar = {**config["cifar"], "models": active_models(config["cifar"])}
    if not cifar["models"]:
        messages.append("config key 'cifar.models': every entry is null; keep at least one")
    if cifar["data"]["source"] == "local" and not cifar["data"].get("local_dir"):
        messages.append(
            "config key 'cifar.data.local_dir': required when cifar.data.source is local"
        )
    messages += _estimation_set_errors(cifar)
    messages += _schedule_errors(cifar)
    messages += _batch_size_errors(cifar)
    messages += _value_list_errors(cifar)
    from signgeom.training.optimizers import OPTIMIZERS  # torch: only when the schema passed

    messages += _task_errors(cifar)
    for model, spec in cifar["models"].items():
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
    messages += _sensitivity_errors(cifar)
    hess, smooth = cifar["hessian"], cifar["smoothness"]
    for model in hess["models"]:
        if model not in cifar["models"]:
            messages.append(
                f"config key 'cifar.hessian.models': {model!r} is not in cifar.models "
                f"({sorted(cifar['models'])})"
            )
    messages += _rotation_errors(cifar)
    if hess["n_examples"] > estimation_set_size(cifar):
        messages.append(
            f"config key 'cifar.hessian.n_examples': {hess['n_examples']} exceeds the smoothness "
            f"subset, cifar.smoothness.n_examples = {smooth['n_examples']}"
        )
    return messages


def active_models(cifar: dict) -> dict:
    """``cifar.models`` without the entries an overlay set to null (dropped)."""
    return {name: spec for name, spec in cifar["models"].items() if spec is not None}


def drop_null_models(config: dict) -> None:
    """Remove the null entries of ``cifar.models`` from ``config`` (in place; the workflow does
    this once, after :func:`validate_config`)."""
    config["cifar"]["models"] = active_models(config["cifar"])


def model_tasks(cifar: dict) -> tuple[dict[str, Any], list[str]]:
    """The task of each model of ``cifar.models`` (``signgeom.tasks.registry`` of its
    network), and a message naming the key of each network that no task has."""
    from signgeom.tasks.registry import task_for_model
    from signgeom.training.run_settings import model_architecture

    tasks, messages = {}, []
    for model, spec in active_models(cifar).items():
        try:
            tasks[model] = task_for_model(model_architecture(cifar, model))
        except ValueError as err:
            key = f"cifar.models.{model}" + (".architecture" if "architecture" in spec else "")
            messages.append(f"config key '{key}': {err}")
    return tasks, messages


def _task_errors(cifar: dict) -> list[str]:
    """Every model's network is a registered one (the key named: its ``architecture``, else the
    entry); the configured augmentation, layout (``channels_last``: image inputs only) and
    stages are ones its task supports (the Hessian stage needs ``Task.hessian_loss``)."""
    tasks, messages = model_tasks(cifar)
    for model, task in tasks.items():
        if cifar["augmentation"] not in task.augmentations:
            messages.append(
                f"config key 'cifar.augmentation': {cifar['augmentation']!r} is not an "
                f"augmentation of task {task.name!r} (model {model!r}); it knows "
                f"{sorted(task.augmentations)}"
            )
    for section in ("training", "smoothness"):
        if cifar[section]["channels_last"]:
            textual = sorted(m for m, task in tasks.items() if not task.image_inputs)
            if textual:
                messages.append(
                    f"config key 'cifar.{section}.channels_last': true, but models {textual} "
                    "have no image inputs (a layout of images only); set it to false"
                )
    for model in cifar["hessian"]["models"]:
        if model in tasks and not supports_hessian(tasks[model]):
            messages.append(
                f"config key 'cifar.hessian.models': {model!r} is a model of task "
                f"{tasks[model].name!r}, which the Hessian stage does not support (the task "
                "has no hessian_loss); remove it from cifar.hessian.models"
            )
    return messages


def supports_hessian(task: Any) -> bool:
    """Whether the Hessian stage can run on ``task`` (its ``hessian_loss`` exists)."""
    try:
        task.hessian_loss()
    except NotImplementedError:
        return False
    return True


def corpus_path(cifar: dict, repo: str | Path) -> Path:
    """``cifar.data.corpus``, a relative path resolved against the checkout ``repo``."""
    path = Path(cifar["data"]["corpus"])
    return path if path.is_absolute() else Path(repo) / path


def corpus_errors(cifar: dict, repo: str | Path) -> list[str]:
    """The corpus must be a file where some model of task charlm reads it."""
    if not any(task.name == "charlm" for task in model_tasks(cifar)[0].values()):
        return []
    path = corpus_path(cifar, repo)
    if path.is_file():
        return []
    return [
        f"config key 'cifar.data.corpus': text file {path} does not exist (the data of the "
        "charlm models; a relative path is read from the checkout)"
    ]


def merged_config(base: dict, *overrides: dict) -> dict:
    """``base`` with each override on top, as ``--configfile`` layers them: nested mappings
    merged key by key, any other value replaced; a deep copy, the inputs left unchanged."""
    out = copy.deepcopy(base)
    for override in overrides:
        _merge_into(out, copy.deepcopy(override))
    return out


def _merge_into(out: dict, override: dict) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            _merge_into(out[key], value)
        else:
            out[key] = value


def load_config_files(*paths: str | Path) -> dict:
    """The YAML files ``paths`` layered in order (:func:`merged_config`), each read by
    :func:`signgeom.config_files.read_config_file` (no duplicate keys, aliases or tags:
    :class:`ConfigFileError` naming the file)."""
    return merged_config({}, *(read_config_file(p) for p in paths))


CIFAR10_TRAIN_IMAGES = 50_000


def training_images(cifar: dict) -> int:
    """Training images every run sees: ``cifar.data.train_limit``, or all of CIFAR-10's."""
    limit = cifar["data"].get("train_limit")
    return limit if limit is not None else CIFAR10_TRAIN_IMAGES


def estimation_set_size(cifar: dict) -> int:
    """Images in the estimation set (``estimation_examples``, None counted as all)."""
    n = estimation_examples(cifar)
    return n if n is not None else CIFAR10_TRAIN_IMAGES


def _value_list_errors(cifar: dict) -> list[str]:
    """Values that must be one of a registry kept in the code (extensible, so the schema and
    the settings declare only their type)."""
    from signgeom.tasks.cifar.augment import (
        AUGMENTERS,  # torch: imported only when the schema passed
    )

    if cifar["augmentation"] in AUGMENTERS:
        return []
    return [
        f"config key 'cifar.augmentation': {cifar['augmentation']!r} is not one of "
        f"{sorted(AUGMENTERS)}"
    ]


def settings_errors(config: dict) -> list[str]:
    """Every stage's settings built from ``config`` once per model (their declarations refuse
    a value outside its choices or range, and the rules between fields, naming the key)."""
    cifar, quad = config["cifar"], config["quadratic"]
    builds: list[tuple[type[Settings], dict[str, Any]]] = [
        (qs.GridSettings, {"family": quad["families"][0]}),
        *((cls, {}) for cls in QUADRATIC_SETTINGS),
        (ClaimSettings, {}),
        (RobustnessSettings, {}),
    ]
    thetas = [t for t in cifar["rotation"]["thetas"] if t != 0][:1]
    for model, spec in active_models(cifar).items():
        optimizer, lrs = next(iter(spec["step_sizes"].items()))
        run = {"model": model, "optimizer": optimizer, "lr": lrs[0], "seed": cifar["seeds"][0]}
        builds += [(TrainSettings, {**run, "rotation_theta": t}) for t in [0.0, *thetas]]
        trajectory = {"model": model, "trajectory_optimizer": optimizer}
        builds += [(cls, trajectory) for cls in (SmoothnessSettings, SensitivitySettings)]
        builds.append((HessianSettings, trajectory))
    messages = []
    for cls, per_job in builds:
        try:
            cls.from_config(config, **per_job)
        except ValueError as err:
            messages.append(str(err))
    return list(dict.fromkeys(messages))


def _max_exact_dim_errors(config: dict) -> list[str]:
    """Both exact-norm limits stay within what the enumeration allows
    (``signgeom.norms.DEFAULT_MAX_EXACT_DIM``)."""
    limits = {
        "quadratic.max_exact_dim": config["quadratic"]["max_exact_dim"],
        "cifar.hessian.max_exact_dim": config["cifar"]["hessian"]["max_exact_dim"],
    }
    return [
        f"config key '{key}': {value} is greater than the maximum of {DEFAULT_MAX_EXACT_DIM} "
        f"(the exact norm enumerates 2^(d-1) sign vectors)"
        for key, value in limits.items()
        if value > DEFAULT_MAX_EXACT_DIM
    ]


def _sensitivity_errors(cifar: dict) -> list[str]:
    """The sensitivity stage's models exist and have both paper optimizers (their step sizes
    set the probes)."""
    messages = []
    for i, model in enumerate(cifar["sensitivity"]["models"]):
        if model not in cifar["models"]:
            messages.append(
                f"config key 'cifar.sensitivity.models.{i}': {model!r} is not in cifar.models "
                f"({sorted(cifar['models'])})"
            )
        elif not {"sgd", "signsgd"} <= set(cifar["models"][model]["step_sizes"]):
            messages.append(
                f"config key 'cifar.sensitivity.models.{i}': {model!r} needs sgd and signsgd "
                "step sizes (their chosen values set the probes)"
            )
    return messages


def _theory_errors(theory: dict) -> list[str]:
    """The stochastic stages: a known family feasible at every dimension, grids, workers."""
    from signgeom.quadratic.noise import NOISE_DISTRIBUTIONS

    noise, messages = theory["noise"], []
    dims = sorted({*theory["noise_dimension"]["dims"], theory["majority_vote"]["dim"]})
    if noise["family"] not in SPECTRUM_FAMILIES:
        messages.append(
            f"config key 'theory.noise.family': unknown spectrum family {noise['family']!r}; "
            f"known: {sorted(SPECTRUM_FAMILIES)}"
        )
    else:
        for dim in dims:
            try:
                family_spectrum(noise["family"], noise["lambda_ratio"], dim)
            except ValueError as err:
                messages.append(f"config key 'theory.noise.lambda_ratio': at d = {dim}: {err}")
                break
    if noise["sparse_k"] > dims[0]:
        messages.append(
            f"config key 'theory.noise.sparse_k': {noise['sparse_k']} noisy coordinates exceed "
            f"the smallest dimension d = {dims[0]}"
        )
    for name, grid in noise["step_sizes"].items():
        if grid["min"] >= grid["max"]:
            messages.append(
                f"config key 'theory.noise.step_sizes.{name}': min {grid['min']} must be "
                f"below max {grid['max']}"
            )
    if 1 not in theory["majority_vote"]["workers"]:
        messages.append(
            "config key 'theory.majority_vote.workers': must include 1 (the speed-up's reference)"
        )
    for i, dist in enumerate(theory["majority_vote"]["distributions"]):
        if dist not in NOISE_DISTRIBUTIONS:
            messages.append(
                f"config key 'theory.majority_vote.distributions.{i}': unknown noise "
                f"distribution {dist!r}; known: {sorted(NOISE_DISTRIBUTIONS)}"
            )
    return messages


def _rotation_errors(cifar: dict) -> list[str]:
    """cifar.rotation: its models are trained models; its optimizers are known, act on each
    coordinate alone (the rotation hands them ``(n_blocks, k)`` blocks, not the network's
    tensors) and have a selected step size in each model (a grid in
    cifar.models.<model>.step_sizes); theta = 0, the reference of every rotated run, is swept."""
    from signgeom.training.optimizers import OPTIMIZERS, SHAPE_DEPENDENT

    rotation, messages = cifar["rotation"], []
    for opt in rotation["optimizers"]:
        if opt not in OPTIMIZERS:
            messages.append(
                f"config key 'cifar.rotation.optimizers': unknown optimizer {opt!r}; "
                f"known: {sorted(OPTIMIZERS)}"
            )
        elif opt in SHAPE_DEPENDENT:
            messages.append(
                f"config key 'cifar.rotation.optimizers': {opt!r} cannot be rotated: its update "
                "depends on each tensor's shape, and the rotated coordinates are (n_blocks, "
                "block_size) blocks, so it would be another optimizer; rotatable: "
                f"{sorted(set(OPTIMIZERS) - SHAPE_DEPENDENT)}"
            )
    if 0 not in rotation["thetas"]:
        messages.append(
            f"config key 'cifar.rotation.thetas': {rotation['thetas']} lacks 0.0, the unrotated "
            "run that every rotated run is compared with; add 0.0"
        )
    for model in rotation["models"]:
        if model not in cifar["models"]:
            messages.append(
                f"config key 'cifar.rotation.models': {model!r} is not in cifar.models "
                f"({sorted(cifar['models'])})"
            )
            continue
        for opt in rotation["optimizers"]:
            if opt not in cifar["models"][model]["step_sizes"]:
                messages.append(
                    f"config key 'cifar.rotation.optimizers': {opt!r} has no step-size grid in "
                    f"cifar.models.{model}.step_sizes, so no selected step size to rotate"
                )
    return messages


def _estimation_set_errors(cifar: dict) -> list[str]:
    """The estimation set (first n_examples training images) must lie inside the training set."""
    n, limit = cifar["smoothness"]["n_examples"], cifar["data"].get("train_limit")
    available = training_images(cifar)
    if n is not None and n > available:
        what = f"cifar.data.train_limit = {limit}" if limit is not None else "CIFAR-10's 50,000"
        return [
            f"config key 'cifar.smoothness.n_examples': {n} is more than the training set "
            f"({what} images); use at most {available}, or null for all of them"
        ]
    return []


def _schedule_errors(cifar: dict) -> list[str]:
    """The estimate schedule (``signgeom.training.schedule``): stride 1 beside a schedule, and no
    listed epoch beyond every model's trajectory."""
    from signgeom.training.schedule import schedule_errors

    smooth = cifar["smoothness"]
    schedule = smooth["schedule"]
    messages = schedule_errors(schedule, smooth["stride"])
    longest = max((spec["epochs"] for spec in cifar["models"].values()), default=0)
    if isinstance(schedule, list) and (beyond := [e for e in schedule if e > longest]):
        messages.append(
            f"config key 'cifar.smoothness.schedule': epochs {beyond} are beyond every model's "
            f"trajectory (the longest has {longest} epochs)"
        )
    return messages


def _batch_size_errors(cifar: dict) -> list[str]:
    """A minibatch larger than the training set would silently make every step full-batch."""
    limit = cifar["data"].get("train_limit")
    available = training_images(cifar)
    what = f"cifar.data.train_limit = {limit}" if limit is not None else "CIFAR-10's 50,000"
    sizes = {"cifar.batch_size": cifar["batch_size"]}
    for model, spec in cifar["models"].items():
        if "batch_size" in spec:
            sizes[f"cifar.models.{model}.batch_size"] = spec["batch_size"]
    return [
        f"config key '{key}': {size} is more than the training set ({what} examples), so "
        f"every step would be a full-batch step; use at most {available}"
        for key, size in sizes.items()
        if size > available
    ]


def settings_schema(schema: dict, classes: Sequence[type[Settings]]) -> dict:
    """``schema`` (a deep copy) with a node for each config key of a settings field of
    ``classes`` that it does not state, made from the field's declaration
    (``signgeom.settings.schema_node``), parent objects included, every one required. Keys
    with a per-job part (``cifar.models.{model}.epochs``) are left to the schema's own nodes."""
    out = copy.deepcopy(schema)
    for cls in classes:
        for f in cls.config_fields():
            key = declaration(f)["config"]
            if "{" in key:
                continue
            *parents, last = key.split(".")
            node = out
            for part in parents:
                if "properties" not in node:
                    break
                if part not in node["properties"]:
                    node["properties"][part] = {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {},
                    }
                    node.setdefault("required", []).append(part)
                node = node["properties"][part]
            else:
                if "properties" in node and last not in node["properties"]:
                    node["properties"][last] = schema_node(cls, f)
                    node.setdefault("required", []).append(last)
    return out


def validate_config(
    config: dict, schema_path: str | Path = SCHEMA_PATH, settings: Sequence[type[Settings]] = ()
) -> None:
    """Raise :class:`ConfigError` listing every problem of ``config``: the schema (with the
    nodes of :func:`settings_schema` for the package's settings classes and ``settings``),
    the rules between keys, then every stage's settings built from it."""
    classes = [*declared_settings(), *settings]
    schema = settings_schema(yaml.safe_load(Path(schema_path).read_text()), classes)
    messages = schema_errors(config, schema)
    if not messages:
        messages = semantic_errors(config) + settings_errors(config)
    if messages:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(messages))
