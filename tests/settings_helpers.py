"""Test helpers for settings (``signgeom.settings``): the unit tests' configuration, settings
built from it, and a valid value of a declared field.

Config-keyed fields have no default, so a unit test that builds settings by hand takes the
values it does not set from :data:`UNIT_CONFIG`: the repository's config.yaml with the numerics
these tests are written for (strict fp32 and deterministic kernels in NCHW, every epoch
evaluated and snapshotted, one smoothness shard, the Hessian method's exact-enough Lanczos).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from signgeom.config import merged_config
from signgeom.settings import Settings, declaration

REPO = Path(__file__).resolve().parents[1]
UNIT_TEST_VALUES = {
    "cifar": {
        "training": {"precision": "fp32", "deterministic": True, "channels_last": False},
        "evaluation": {"train_every": 1, "train_subset": None},
        "smoothness": {"stride": 1, "schedule": None, "channels_last": False, "shards": 1},
        "hessian": {"lanczos_tol": 1.0e-3, "lanczos_ncv": 20, "n_contiguous_blocks": 1},
    }
}
UNIT_CONFIG = merged_config(yaml.safe_load((REPO / "config.yaml").read_text()), UNIT_TEST_VALUES)


def unit_settings(cls: type[Settings], **values: Any) -> Any:
    """``cls`` with ``values`` and, for every other config-keyed field, :data:`UNIT_CONFIG`'s."""
    return cls.from_config(UNIT_CONFIG, **values)


_CANDIDATES = {int: [7, 3, 2, 1, 0, 1000], float: [0.25, 0.5, 0.0625, 1.5, 2.5, 7.0, -90.0]}
_HOLDS = {
    "ge": lambda v, b: v >= b,
    "gt": lambda v, b: v > b,
    "le": lambda v, b: v <= b,
    "lt": lambda v, b: v < b,
}


def _scalar(kind: type, bounds: dict[str, float], choices: tuple | None, current: Any) -> Any:
    if choices is not None:
        return next(c for c in choices if c != current)
    if kind is bool:
        return not current
    if kind is str:
        return "other" if current != "other" else "another"
    for value in _CANDIDATES[kind]:
        if value != current and all(_HOLDS[op](value, b) for op, b in bounds.items()):
            return value
    raise AssertionError(f"no sample {kind.__name__} within {bounds}")


def another_valid_value(cls: type, f: dataclasses.Field, current: Any) -> Any:
    """A value of ``cls``'s field ``f`` within its declaration, other than ``current`` (a list
    for a ``tuple[T, ...]`` field, as YAML gives it; ``[3]`` for a type it does not know)."""
    meta = declaration(f)
    hint = typing.get_type_hints(cls)[f.name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else hint
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        first = _scalar(args[0], meta["bounds"], meta["choices"], None)
        return [first, _scalar(args[0], meta["bounds"], meta["choices"], first)]
    if hint in (int, float, str, bool):
        return _scalar(hint, meta["bounds"], meta["choices"], current)
    return [3]
