"""A training run's identity and where its directory lies, in one place.

The identity is a short stable hash of the settings that shape a run's trajectory (the
identity fields of ``signgeom.training.run_settings.TrainSettings``). A run's directory is named
by it, so a changed setting trains a new run next to the old one instead of clashing with its
checkpoint::

    <root>/runs/<model>/<optimizer>/lr<lr>_seed<seed>_<run id>            a plain run
    <root>/runs/<model>/<optimizer>/lr<lr>_seed<seed>_theta<theta>_<run id>  a rotated one

:func:`run_key` gives ``<model>/<optimizer>/<name>`` of a run, :func:`run_key_pattern` the
same with Snakemake wildcards, and :func:`run_path` puts either under a root; the workflow's
rules, logs and benchmarks and the tests all use them. The training CLI recomputes the hash
from its settings and refuses a run directory named by another. No torch import here: the
Snakefile uses this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

ID_LENGTH = 10
RUNS = "runs"


def run_id(fields: Mapping[str, Any]) -> str:
    """First ``ID_LENGTH`` hex digits of the SHA-256 of the fields' sorted, compact JSON."""
    text = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]


def _name(lr: str, seed: str, theta: str | None, identity: str) -> str:
    rotated = f"_theta{theta}" if theta is not None else ""
    return f"lr{lr}_seed{seed}{rotated}_{identity}"


def run_dir_name(fields: Mapping[str, Any]) -> str:
    """``lr<lr>_seed<seed>_<run id>`` (a rotated run, ``rotation_theta`` non-zero:
    ``lr<lr>_seed<seed>_theta<theta>_<run id>``): readable, and unique per identity."""
    theta = fields.get("rotation_theta", 0.0)
    shown = repr(float(theta)) if theta != 0.0 else None
    return _name(repr(float(fields["lr"])), str(fields["seed"]), shown, run_id(fields))


def run_key(fields: Mapping[str, Any]) -> str:
    """``<model>/<optimizer>/<run directory name>`` of the identity ``fields``."""
    return f"{fields['model']}/{fields['optimizer']}/{run_dir_name(fields)}"


def run_key_pattern(rotated: bool = False) -> str:
    """:func:`run_key` with the wildcards ``model``, ``optimizer``, ``lr``, ``seed``,
    ``run_id`` (and ``theta`` for a rotated run)."""
    name = _name("{lr}", "{seed}", "{theta}" if rotated else None, "{run_id}")
    return f"{{model}}/{{optimizer}}/{name}"


def run_path(root: str, key: str) -> str:
    """The run directory ``<root>/runs/<key>`` of a :func:`run_key` (or its pattern)."""
    return f"{root}/{RUNS}/{key}"
