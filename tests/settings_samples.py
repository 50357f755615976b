"""Test helper: a valid value of a declared settings field (``signgeom.settings``) that differs
from a given one, chosen from the field's declared type, choices and bounds."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from signgeom.settings import declaration

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
