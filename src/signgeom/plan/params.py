"""A rule's params: the values its command takes, and the JSON that reruns the job.

Snakemake reruns a job whose params changed, but it compares the *set* of the job's param
values, names dropped: two values that swap (epochs 1 -> 2 while a stride goes 2 -> 1) leave
the set unchanged and the job is not rerun. A rule therefore takes its settings as one param,
``settings``, their canonical JSON, names included, which changes with any value. Built by
:func:`rule_params`, the one helper every rule's params come from (the structural test
``tests/test_plan.py`` reads the rules and checks it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from signgeom.settings import Settings

Wildcards = Any  # Snakemake's wildcards of a job (attribute access), or any object alike
ParamFunction = Callable[[Wildcards], Any]


def wildcard(name: str, cast: Callable[[str], Any] = str, default: Any = None) -> ParamFunction:
    """Params function: the job's wildcard ``name`` as ``cast`` (``default`` where the rule has
    no such wildcard)."""

    def value(wildcards: Wildcards) -> Any:
        text = getattr(wildcards, name, None)
        return default if text is None else cast(text)

    return value


def _is_settings(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, Settings)


def _value(value: Any, config: Mapping[str, Any], wildcards: Wildcards) -> Any:
    """One value of a job: a Settings class stands for its JSON from the config (no per-job
    values); another callable takes the wildcards."""
    if _is_settings(value):
        return value.from_config(config).to_json()
    return value(wildcards) if callable(value) else value


def _evaluate(values: Mapping[str, Any], config: Mapping[str, Any], wildcards: Wildcards):
    return {name: _value(value, config, wildcards) for name, value in values.items()}


def canonical_json(values: Mapping[str, Any]) -> str:
    """Sorted, compact JSON of ``values`` (non-JSON values by ``str``)."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)


def rule_params(
    config: Mapping[str, Any],
    source: type[Settings] | Callable[..., Settings] | None = None,
    /,
    **values: Any,
) -> dict[str, Any]:
    """The params of a rule, for ``params: **rule_params(...)``.

    With a ``source`` (a :class:`~signgeom.settings.Settings` subclass, built by its
    ``from_config``, or a function returning one), ``values`` are its per-job values
    (callables take the job's wildcards, e.g. :func:`wildcard`) and the params are one entry,
    ``settings``: the settings' JSON, the command's ``--settings``.

    Without one, the params are ``values`` themselves (the command's flags; a value that is a
    Settings class stands for its JSON from the config) and, where there are two or more,
    ``settings``: their :func:`canonical_json`, so that any change of one reruns the job. A
    single value needs none: the set of one value changes exactly when the value does.
    """
    if source is not None:
        build = source.from_config if _is_settings(source) else None

        def settings(wildcards: Wildcards) -> str:
            per_job = _evaluate(values, config, wildcards)
            made = build(config, **per_job) if build is not None else source(**per_job)
            return made.to_json()

        return {"settings": settings}

    params = {
        name: (lambda wc, _v=value: _value(_v, config, wc)) if _is_settings(value) else value
        for name, value in values.items()
    }
    if len(values) > 1:
        params["settings"] = lambda wildcards: canonical_json(_evaluate(values, config, wildcards))
    return params


def none_flag(value: Any) -> str:
    """A config value as a command-line flag's value, null as ``none``."""
    return "none" if value is None else str(value)
