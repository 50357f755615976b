"""Typed settings of one job, declared once as dataclass fields.

A stage's settings are a frozen, keyword-only dataclass deriving from :class:`Settings`, whose
fields are declared with :func:`setting`: the field's type, config key, allowed values or range,
role in the run identity and help text. A field with a config key has no default: its value
lives in ``config.yaml`` only. Everything else comes from those declarations:

- :meth:`Settings.from_config`: the values of one job from the validated config (each field
  reads its ``config`` key; keys may name a per-job value, ``cifar.models.{model}.epochs``);
- :meth:`Settings.to_json` / :meth:`Settings.from_json`: the rule's single argument;
- :meth:`Settings.add_arguments` / :meth:`Settings.from_args`: a command-line flag per field
  (``--settings JSON`` for all of them at once; flags given next to it override it; a config
  key given by neither is read from the checkout's ``config.yaml``);
- :meth:`Settings.identity`: the fields that name the job's outputs;
- validation: every construction checks each value against its declared choices and bounds,
  and a refusal names the config key. The JSON schema's node at each key states the same
  type, enum and bounds (a test compares them).

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
    identity_default: Any = dataclasses.MISSING,
    json: Identity = True,
    choices: tuple[Any, ...] | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """A settings field.

    Args:
        default: the value of a field without a config key when none is given (none:
            required). A field with a config key takes none: config.yaml holds its value.
        help: its command-line help.
        config: its dotted config key (``str.format``-ted with the job's values, e.g.
            ``cifar.models.{model}.epochs``); None: a per-job value.
        identity: True if it is part of the job's identity; ``"unless_default"``: only while
            it differs from its reference value (``default``, or ``identity_default`` for a
            config-keyed field), so a setting added later keeps the identity of every job at
            that value: never change it; False: not part of it.
        identity_default: the reference value of an ``"unless_default"`` config-keyed field.
        json: whether it is in :meth:`Settings.to_json` (the rule's argument, whose change
            reruns the job); ``"unless_default"``: only while it differs from its reference
            value (a setting added later reruns no job at that value).
        choices: the allowed values (of each item, for a ``tuple[T, ...]`` field).
        ge, gt, le, lt: bounds (``>=``, ``>``, ``<=``, ``<``) of the value or of each item;
            ``None`` passes where the type admits it.
    """
    if config is not None and default is not dataclasses.MISSING:
        raise TypeError(
            f"setting of config key {config!r} has a default ({default!r}): a config-keyed "
            "setting takes its value from the config only (config.yaml)"
        )
    reference = default if config is None else identity_default
    if "unless_default" in (identity, json) and reference is dataclasses.MISSING:
        raise TypeError(
            f"setting {config or help!r}: 'unless_default' needs its reference value "
            "(default=, or identity_default= for a config-keyed setting)"
        )
    if "unless_default" not in (identity, json) and identity_default is not dataclasses.MISSING:
        raise TypeError("identity_default is the reference of 'unless_default' only")
    bounds = {op: v for op, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    meta = {
        "help": help,
        "config": config,
        "identity": identity,
        "json": json,
        "reference": reference,
        "choices": tuple(choices) if choices is not None else None,
        "bounds": bounds,
    }
    return dataclasses.field(default=default, metadata={_META: meta})


def same_as(cls: type, name: str, **changes: Any) -> Any:
    """A field declared as ``cls``'s field ``name`` (its config key, choices, range and
    identity role), for another stage that reads the same key; ``changes`` replace parts of
    that declaration (``help=...``)."""
    (f,) = [f for f in dataclasses.fields(cls) if f.name == name]
    if unknown := set(changes) - set(_meta(f)):
        raise TypeError(f"same_as({cls.__name__}, {name!r}): unknown parts {sorted(unknown)}")
    meta = {**_meta(f), **changes}
    return dataclasses.field(default=f.default, metadata={_META: meta})


def _meta(f: dataclasses.Field) -> dict[str, Any]:
    return f.metadata[_META]


def declaration(f: dataclasses.Field) -> dict[str, Any]:
    """A field's declaration: ``help``, ``config`` (key or None), ``identity``, ``reference``
    (of ``"unless_default"``), ``choices`` (tuple or None), ``bounds`` (``{"ge": 0, ...}``)."""
    return dict(_meta(f))


_BOUNDS = {
    "ge": (lambda v, b: v >= b, ">="),
    "gt": (lambda v, b: v > b, ">"),
    "le": (lambda v, b: v <= b, "<="),
    "lt": (lambda v, b: v < b, "<"),
}


def _refusals(label: str, value: Any, meta: Mapping[str, Any]) -> list[str]:
    """Why ``value`` (or an item of a tuple) breaks the declared choices or bounds."""
    items = value if isinstance(value, tuple) else (value,)
    problems = []
    for item in items:
        if item is None:
            continue
        if meta["choices"] is not None and item not in meta["choices"]:
            problems.append(f"{label}: {item!r} is not one of {list(meta['choices'])}")
        for op, bound in meta["bounds"].items():
            holds, symbol = _BOUNDS[op]
            if not holds(item, bound):
                problems.append(f"{label}: {item!r} must be {symbol} {bound}")
    return problems


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
    types are kept as given); ``name`` labels a refusal."""
    kind, optional = _parts(hint)
    if value is None and optional:
        return None
    if (item := _items(kind)) is not None:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list, got {value!r}")
        return tuple(_cast(name, v, item) for v in value)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if kind in (int, float, str):
        if isinstance(value, bool) or value is None:
            raise ValueError(f"{name} must be a {kind.__name__}, got {value!r}")
        try:
            cast = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a {kind.__name__}, got {value!r}") from None
        if kind is int and not isinstance(value, str) and cast != value:
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return cast
    return value


_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", dict: "object"}
_SCHEMA_BOUNDS = {
    "ge": "minimum",
    "gt": "exclusiveMinimum",
    "le": "maximum",
    "lt": "exclusiveMaximum",
}


def schema_node(cls: type, f: dataclasses.Field) -> dict[str, Any]:
    """The JSON-schema node of a field's config key: its type, enum and bounds (those of each
    item for ``tuple[T, ...]``); ``{}`` for a type JSON schema states only as a union of
    shapes (a schedule)."""
    meta = _meta(f)
    kind, optional = _parts(typing.get_type_hints(cls)[f.name])
    rules: dict[str, Any] = {_SCHEMA_BOUNDS[op]: v for op, v in meta["bounds"].items()}
    if meta["choices"] is not None:
        rules["enum"] = list(meta["choices"])
    if (item := _items(kind)) is not None:
        node: dict[str, Any] = {"type": "array", "items": {"type": _JSON_TYPES[item], **rules}}
    elif (json_type := _JSON_TYPES.get(typing.get_origin(kind) or kind)) is not None:
        node = {"type": json_type, **rules}
    else:
        return {}
    if optional:
        node["type"] = [node["type"], "null"]
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
    return node


def declared_settings() -> list[type[Settings]]:
    """Every subclass of :class:`Settings` defined in the signgeom package so far (those of
    the modules imported), each once."""
    found, todo = [], list(Settings.__subclasses__())
    while todo:
        cls = todo.pop(0)
        if cls not in found:
            found.append(cls)
            todo += cls.__subclasses__()
    return [c for c in found if c.__module__.startswith("signgeom.")]


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


def _key(f: dataclasses.Field, values: Mapping[str, Any]) -> str | None:
    """A field's config key with its per-job parts filled in from ``values`` where known."""
    key = _meta(f)["config"]
    try:
        return key.format(**values) if key is not None else None
    except (KeyError, IndexError):
        return key


def _label(cls: type, f: dataclasses.Field, values: Mapping[str, Any]) -> str:
    """How a refusal names a field: its config key and ``Class.field``, or ``setting 'field'``
    for a per-job value."""
    key = _key(f, values)
    return f"setting {f.name!r}" if key is None else f"config key {key!r} ({cls.__name__}.{f.name})"


def _checkout_config() -> tuple[str, dict[str, Any]]:
    """The path and contents of the signgeom checkout's ``config.yaml`` (``FileNotFoundError``
    where there is no checkout)."""
    from signgeom.config_files import read_config_file
    from signgeom.workflow import checkout

    path = checkout() / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    return str(path), read_config_file(path)


class Settings:
    """Base of a stage's settings dataclass (``@dataclass(frozen=True, kw_only=True)``)."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        problems = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            label = _label(type(self), f, self.__dict__)
            value = _cast(label, getattr(self, f.name), hints[f.name])
            object.__setattr__(self, f.name, value)
            problems += _refusals(label, value, _meta(f))
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def fields(cls) -> tuple[dataclasses.Field, ...]:
        return dataclasses.fields(cls)  # type: ignore[arg-type]

    @classmethod
    def config_fields(cls) -> tuple[dataclasses.Field, ...]:
        """The fields whose value is read from a config key."""
        return tuple(f for f in cls.fields() if _meta(f)["config"] is not None)

    @classmethod
    def _required(cls) -> list[dataclasses.Field]:
        return [
            f
            for f in cls.fields()
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]):
        """The settings of ``values`` (field name -> value); unknown or missing names are
        refused with ``ValueError`` naming them (and the config keys of the missing ones)."""
        names = {f.name for f in cls.fields()}
        if unknown := sorted(set(values) - names):
            raise ValueError(f"unknown {cls.__name__} fields {unknown}; known: {sorted(names)}")
        if missing := [f for f in cls._required() if f.name not in values]:
            keys = {f.name: _key(f, values) for f in missing if _meta(f)["config"]}
            where = f" (config keys {keys})" if keys else ""
            raise ValueError(
                f"{cls.__name__} needs values for {sorted(f.name for f in missing)}{where}"
            )
        return cls(**values)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **per_job: Any):
        """The settings of one job: each field's ``config`` key read from the validated
        ``config`` (an absent key is refused, naming it), and the per-job values
        (``model=...``; a value given here is not read from the config)."""
        values = dict(per_job)
        for f in cls.config_fields():
            if f.name not in values:
                value = _lookup(config, _meta(f)["config"].format(**per_job))
                if value is not dataclasses.MISSING:
                    values[f.name] = value
        return cls.from_mapping(values)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in self.fields()}

    def to_json(self) -> str:
        """Every field (one declared ``json="unless_default"`` only off its reference value) as
        sorted, compact JSON (the rule's ``--settings`` argument)."""
        values = {
            f.name: getattr(self, f.name)
            for f in self.fields()
            if _meta(f)["json"] is True or getattr(self, f.name) != _meta(f)["reference"]
        }
        return json.dumps(values, sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_mapping(_json_object(cls, text))

    def identity(self) -> dict[str, Any]:
        """The fields that identify the job (``setting(identity=...)``)."""
        out = {}
        for f in self.fields():
            meta, value = _meta(f), getattr(self, f.name)
            role = meta["identity"]
            if role is True or (role == "unless_default" and value != meta["reference"]):
                out[f.name] = value
        return out

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """``--settings JSON`` and one optional flag per field (``none``: null; booleans
        ``true|false``; ``tuple[T, ...]`` one or more values; other types JSON); a flag given
        next to ``--settings`` overrides it; a config key given by neither comes from the
        checkout's config.yaml."""
        parser.add_argument(
            "--settings",
            metavar="JSON",
            help=f"every {cls.__name__} field as one JSON object (what the workflow passes)",
        )
        hints = typing.get_type_hints(cls)
        for f in cls.fields():
            meta = _meta(f)
            if meta["config"] is not None:
                default = f"default: config.yaml's {meta['config']}"
            elif f.default is dataclasses.MISSING:
                default = "required"
            else:
                default = f"default {f.default}"
            allowed = f"; one of {list(meta['choices'])}" if meta["choices"] else ""
            parser.add_argument(
                f"--{f.name.replace('_', '-')}",
                dest=f.name,
                default=argparse.SUPPRESS,
                help=f"{meta['help']} ({default}{allowed})",
                **_flag_type(hints[f.name]),
            )

    @classmethod
    def from_args(cls, args: argparse.Namespace):
        """The settings of parsed arguments: ``--settings``, then the flags given; a
        config-keyed field given by neither is read from the checkout's ``config.yaml``
        (:meth:`from_config`), and refused, naming its key, where there is none."""
        given = vars(args)
        base = _json_object(cls, given["settings"]) if given.get("settings") is not None else {}
        values = base | {f.name: given[f.name] for f in cls.fields() if f.name in given}
        unset = [f for f in cls.config_fields() if f.name not in values]
        if not unset:
            return cls.from_mapping(values)
        keys = {f.name: _key(f, values) for f in unset}
        try:
            path, config = _checkout_config()
        except FileNotFoundError as err:
            raise ValueError(
                f"{cls.__name__} needs values for the config keys {keys}: pass --settings JSON "
                f"or their flags, or run inside a signgeom checkout, whose config.yaml holds "
                f"them ({err})"
            ) from None
        try:
            return cls.from_config(config, **values)
        except ValueError as err:
            raise ValueError(f"{err} (values not given were read from {path})") from None

    @classmethod
    def argument_names(cls) -> set[str]:
        """The ``argparse`` destinations :meth:`add_arguments` adds."""
        return {"settings", *(f.name for f in cls.fields())}
