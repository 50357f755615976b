"""A training run's identity: a short stable hash of every setting that shapes its trajectory.

The settings are the fields of ``signgeom.cifar.train.RunConfig`` (model, optimizer, lr, seed,
batch size, momentum, data limits, divergence factor, ...). A run's directory is named by their
hash, so a changed setting trains a new run next to the old one instead of clashing with its
checkpoint. The rotation settings (``rotation_theta``, ``rotation_block_size``; see
``signgeom.cifar.rotation``) are part of it only for a rotated run (``theta != 0``): at
``theta = 0`` the optimizer is the plain one, so the run keeps the identity it always had.
Settings that only decide how far a run goes or what it reports (``epochs``, the
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


ROTATION_FIELDS = ("rotation_theta", "rotation_block_size")


def identity_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that identify a run: all of them, less the rotation ones unless it is rotated
    (``rotation_theta`` present and non-zero)."""
    if fields.get("rotation_theta", 0.0) != 0.0:
        return dict(fields)
    return {k: v for k, v in fields.items() if k not in ROTATION_FIELDS}


def run_id(fields: Mapping[str, Any]) -> str:
    """First ``ID_LENGTH`` hex digits of the SHA-256 of the identity fields' sorted, compact
    JSON (:func:`identity_fields`)."""
    text = json.dumps(
        identity_fields(fields), sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]


def run_fields(
    cifar: Mapping[str, Any],
    model: str,
    optimizer: str,
    lr: float,
    seed: int,
    theta: float = 0.0,
) -> dict[str, Any]:
    """The ``RunConfig`` fields (same names and types) of one run of the config's ``cifar``,
    trained at rotation strength ``theta`` (block size ``cifar.rotation.block_size``)."""
    data = cifar["data"]
    rotation = cifar.get("rotation") or {}
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
        "rotation_theta": float(theta),
        "rotation_block_size": int(rotation["block_size"]) if theta != 0 else None,
    }


def run_dir_name(fields: Mapping[str, Any]) -> str:
    """``lr<lr>_seed<seed>_<run_id>`` (a rotated run: ``lr<lr>_seed<seed>_theta<theta>_<run
    id>``): readable, and unique per trajectory-shaping config."""
    theta = fields.get("rotation_theta", 0.0)
    rotated = f"_theta{float(theta)!r}" if theta != 0.0 else ""
    return f"lr{float(fields['lr'])!r}_seed{fields['seed']}{rotated}_{run_id(fields)}"
