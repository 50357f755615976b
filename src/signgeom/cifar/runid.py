"""A training run's identity: a short stable hash of every setting that shapes its trajectory.

The settings are the fields of ``signgeom.cifar.train.RunConfig`` (model, optimizer, lr, seed,
batch size, momentum, data limits, divergence factor, ...). A run's directory is named by their
hash, so a changed setting trains a new run next to the old one instead of clashing with its
checkpoint. Settings that only decide how far a run goes or what it reports (``epochs``, the
snapshot stride) are not part of it: more epochs resume a run, fewer report a prefix of it.

``run_fields`` maps the workflow config to those fields; the training CLI recomputes the hash
from its own ``RunConfig`` and refuses a mismatch, and a test checks that ``run_fields`` covers
every ``RunConfig`` field. No torch import here: the Snakefile uses this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

ID_LENGTH = 10


def run_id(fields: Mapping[str, Any]) -> str:
    """First ``ID_LENGTH`` hex digits of the SHA-256 of the fields' sorted, compact JSON."""
    text = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]


def run_fields(
    cifar: Mapping[str, Any], model: str, optimizer: str, lr: float, seed: int
) -> dict[str, Any]:
    """The ``RunConfig`` fields (same names and types) of one run of the config's ``cifar``."""
    data = cifar["data"]
    return {
        "model": model,
        "optimizer": optimizer,
        "lr": float(lr),
        "seed": int(seed),
        "batch_size": int(cifar["batch_size"]),
        "momentum": float(cifar["momentum"]),
        "train_limit": data.get("train_limit"),
        "test_limit": data.get("test_limit"),
        "divergence_factor": float(cifar["divergence_factor"]),
        "augmentation": cifar["augmentation"],
        "precision": cifar["training"]["precision"],
        "deterministic": bool(cifar["training"]["deterministic"]),
        "channels_last": bool(cifar["training"]["channels_last"]),
        "compile": bool(cifar["training"]["compile"]),
    }


def run_dir_name(fields: Mapping[str, Any]) -> str:
    """``lr<lr>_seed<seed>_<run_id>``: readable, and unique per trajectory-shaping config."""
    return f"lr{float(fields['lr'])!r}_seed{fields['seed']}_{run_id(fields)}"
