"""Typed settings of one job, declared once as dataclass fields.

A stage's settings are a frozen, keyword-only dataclass deriving from :class:`Settings`, whose
fields are declared with :func:`setting`: the field's type, default, config key, role in the
run identity and help text. Everything else comes from those declarations:

- :meth:`Settings.from_config`: the values of one job from the validated config (each field
  reads its ``config`` key; keys may name a per-job value, ``cifar.models.{model}.epochs``);
- :meth:`Settings.to_json` / :meth:`Settings.from_json`: the rule's single argument;
- :meth:`Settings.add_arguments` / :meth:`Settings.from_args`: a command-line flag per field
  (``--settings JSON`` for all of them at once; flags given next to it override it);
- :meth:`Settings.identity`: the fields that name the job's outputs.

Values are cast to the declared types on construction (``lr="0.01"`` from a wildcard becomes
``0.01``; a YAML ``10`` for a float field becomes ``10.0``), so equal settings have equal JSON.
No torch import here: the Snakefile uses this module.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from signgeom.cli import boolean

Identity = bool | Literal["unless_default"]
_META = "signgeom"


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    config: str | None = None,
    identity: Identity = True,
    json: Identity = True,
) -> Any:
    """A settings field.

    Args:
        default: the value when neither the config nor a flag gives one (none: required).
        help: its command-line help.
        config: its dotted config key (``str.format``-ted with the per-job values given to
            ``from_config``); None: a per-job value passed to ``from_config``.
        identity: True if it is part of the job's identity; ``"unless_default"``: only while
            it differs from ``default`` (a setting added later keeps the identity of every
            job at its default: never change such a default); False: not part of it.
        json: whether it is in :meth:`Settings.to_json` (the rule's argument, whose change
            reruns the job); ``"unless_default"``: only while it differs from ``default`` (a
            setting added later reruns no job at its default).
    """
    meta = {_META: {"help": help, "config": config, "identity": identity, "json": json}}
    return dataclasses.field(default=default, metadata=meta)


def _meta(f: dataclasses.Field) -> dict[str, Any]:
    return f.metadata[_META]


def _parts(hint: Any) -> tuple[Any, bool]:
    """``(type, optional)`` of a field's type hint (``int | None`` -> ``(int, True)``)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        return (args[0] if len(args) == 1 else hint), optional
    return hint, False


def _items(hint: Any) -> Any:
    """The item type of a ``tuple[T, ...]`` hint (None for any other hint)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _cast(name: str, value: Any, hint: Any) -> Any:
    """``value`` as the declared scalar type, or a tuple of them for ``tuple[T, ...]`` (other
    types are kept as given)."""
    kind, optional = _parts(hint)
    if value is None and optional:
        return None
    if (item := _items(kind)) is not None:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ValueError(f"setting {name!r} must be a list, got {value!r}")
        return tuple(_cast(name, v, item) for v in value)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"setting {name!r} must be true or false, got {value!r}")
        return value
    if kind in (int, float, str):
        if isinstance(value, bool) or value is None:
            raise ValueError(f"setting {name!r} must be a {kind.__name__}, got {value!r}")
        try:
            cast = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"setting {name!r} must be a {kind.__name__}, got {value!r}") from None
        if kind is int and not isinstance(value, str) and cast != value:
            raise ValueError(f"setting {name!r} must be an integer, got {value!r}")
        return cast
    return value


def _none_or(kind: type) -> Any:
    """Flag type: ``none`` (the config's null) or a ``kind``."""
    return lambda s: None if s.lower() == "none" else kind(s)


def _flag_type(hint: Any) -> dict[str, Any]:
    """The argparse ``type`` of a field, its metavar and, for ``tuple[T, ...]``, ``nargs``."""
    kind, optional = _parts(hint)
    if (item := _items(kind)) in (int, float, str):
        return {"type": item, "metavar": item.__name__, "nargs": "+"}
    if kind is bool:
        return {"type": boolean, "metavar": "true|false"}
    if kind in (int, float, str):
        if optional:
            return {"type": _none_or(kind), "metavar": f"{kind.__name__}|none"}
        return {"type": kind, "metavar": kind.__name__}
    return {"type": json.loads, "metavar": "JSON"}


def _lookup(config: Mapping[str, Any], key: str) -> Any:
    """The value at dotted ``key`` (``dataclasses.MISSING`` where a key is absent)."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return dataclasses.MISSING
        node = node[part]
    return node


def _json_object(cls: type, text: str) -> dict[str, Any]:
    """The JSON object ``text`` (``ValueError`` naming ``cls`` if it is not one)."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{cls.__name__} settings are not valid JSON ({err}): {text!r}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{cls.__name__} settings must be a JSON object, got {text!r}")
    return values


class Settings:
    """Base of a stage's settings dataclass (``@dataclass(frozen=True, kw_only=True)``)."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = _cast(f.name, getattr(self, f.name), hints[f.name])
            object.__setattr__(self, f.name, value)

    @classmethod
    def fields(cls) -> tuple[dataclasses.Field, ...]:
        return dataclasses.fields(cls)  # type: ignore[arg-type]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]):
        """The settings of ``values`` (field name -> value); unknown or missing names are
        refused with ``ValueError`` naming them."""
        names = {f.name for f in cls.fields()}
        if unknown := sorted(set(values) - names):
            raise ValueError(f"unknown {cls.__name__} fields {unknown}; known: {sorted(names)}")
        required = {f.name for f in cls.fields() if f.default is dataclasses.MISSING}
        if missing := sorted(required - set(values)):
            raise ValueError(f"{cls.__name__} needs values for {missing}")
        return cls(**values)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **per_job: Any):
        """The settings of one job: each field's ``config`` key read from the validated
        ``config`` (absent keys keep the default), and the per-job values (``model=...``)."""
        values = dict(per_job)
        for f in cls.fields():
            key = _meta(f)["config"]
            if key is not None and f.name not in values:
                value = _lookup(config, key.format(**per_job))
                if value is not dataclasses.MISSING:
                    values[f.name] = value
        return cls.from_mapping(values)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in self.fields()}

    def to_json(self) -> str:
        """Every field (those declared ``json="unless_default"`` only off their default) as
        sorted, compact JSON (the rule's ``--settings`` argument)."""
        values = {
            f.name: getattr(self, f.name)
            for f in self.fields()
            if _meta(f)["json"] is True or getattr(self, f.name) != f.default
        }
        return json.dumps(values, sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_mapping(_json_object(cls, text))

    def identity(self) -> dict[str, Any]:
        """The fields that identify the job (``setting(identity=...)``)."""
        out = {}
        for f in self.fields():
            role, value = _meta(f)["identity"], getattr(self, f.name)
            if role is True or (role == "unless_default" and value != f.default):
                out[f.name] = value
        return out

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """``--settings JSON`` and one optional flag per field (``none``: null; booleans
        ``true|false``; ``tuple[T, ...]`` one or more values; other types JSON); a flag given
        next to ``--settings`` overrides it."""
        parser.add_argument(
            "--settings",
            metavar="JSON",
            help=f"every {cls.__name__} field as one JSON object (what the workflow passes)",
        )
        hints = typing.get_type_hints(cls)
        for f in cls.fields():
            default = "required" if f.default is dataclasses.MISSING else f"default {f.default}"
            parser.add_argument(
                f"--{f.name.replace('_', '-')}",
                dest=f.name,
                default=argparse.SUPPRESS,
                help=f"{_meta(f)['help']} ({default})",
                **_flag_type(hints[f.name]),
            )

    @classmethod
    def from_args(cls, args: argparse.Namespace):
        """The settings of parsed arguments: ``--settings``, then the flags given."""
        given = vars(args)
        base = _json_object(cls, given["settings"]) if given.get("settings") is not None else {}
        flags = {f.name: given[f.name] for f in cls.fields() if f.name in given}
        return cls.from_mapping(base | flags)

    @classmethod
    def argument_names(cls) -> set[str]:
        """The ``argparse`` destinations :meth:`add_arguments` adds."""
        return {"settings", *(f.name for f in cls.fields())}
