"""Atomic file writes (tmp file in the same directory + ``os.replace``) and torch save/load.

A reader (or a resumed job) therefore sees either the old or the new file, never a torn one.
A failed write (full disk, quota, permissions) raises ``WriteError`` naming the file and the
fix; an unreadable checkpoint is set aside (renamed, never deleted) by ``load_checkpoint``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from signgeom.io import atomic_output

log = logging.getLogger(__name__)


class WriteError(ValueError):
    """An output file could not be written; the message names it and what to do."""


def _atomic_write(path: Path, write_fn, mode: str) -> None:
    """``write_fn(file)`` into a temporary file, synced to disk, then moved onto ``path``.

    ``OSError`` (e.g. ENOSPC) and torch's ``RuntimeError`` from its zip writer (a full disk
    shows up as ``[enforce fail at inline_container.cc...]``) become ``WriteError``; the old
    file, if any, is untouched.
    """
    newline = {"newline": ""} if "b" not in mode else {}
    try:
        with atomic_output(path) as tmp, open(tmp, mode, **newline) as fh:
            write_fn(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except (OSError, RuntimeError) as exc:
        raise WriteError(
            f"could not write {path} ({type(exc).__name__}: {exc}). Check that the file system "
            f"of {path.parent} has free space and is writable (`df -h {path.parent}`), then "
            "rerun: a training run resumes from its last complete checkpoint."
        ) from exc


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to ``path`` atomically."""
    _atomic_write(Path(path), lambda fh: torch.save(obj, fh), "wb")


def torch_load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` restricted to tensors/containers/primitives (``weights_only=True``)."""
    return torch.load(path, map_location=map_location, weights_only=True)


def set_aside(path: Path, reason: str) -> Path:
    """Rename ``path`` to ``<name>.<reason>-<UTC timestamp>`` (never deleted); return the name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside, n = path.with_name(f"{path.name}.{reason}-{stamp}"), 1
    while aside.exists():
        aside, n = path.with_name(f"{path.name}.{reason}-{stamp}-{n}"), n + 1
    os.replace(path, aside)
    return aside


def load_checkpoint(path: str | Path) -> Any | None:
    """``torch_load(path)`` onto the CPU, or ``None`` if it is missing or unreadable.

    Always the CPU, whatever device wrote or will use it: ``load_state_dict`` copies model and
    optimizer tensors to the parameters' device, while RNG states must stay CPU byte tensors
    (``torch.set_rng_state`` refuses CUDA ones: loading onto the GPU broke every CUDA resume).

    An unreadable file (truncated, not a torch archive) is renamed to
    ``<name>.corrupt-<UTC timestamp>`` (kept for inspection) and a warning names both paths,
    so the caller starts afresh instead of failing the same way on every retry.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        return torch_load(path, map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        aside = path.with_name(
            f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        )
        os.replace(path, aside)
        log.warning(
            "checkpoint %s is unreadable (%s: %s); set aside as %s, starting this run afresh",
            path,
            type(exc).__name__,
            exc,
            aside,
        )
        return None


def atomic_write_text(text: str, path: str | Path) -> None:
    """Write ``text`` to ``path`` atomically."""
    _atomic_write(Path(path), lambda fh: fh.write(text), "w")


def atomic_write_json(obj: Mapping[str, Any], path: str | Path) -> None:
    """Write ``obj`` as indented JSON atomically (non-finite floats must be converted first)."""
    atomic_write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n", path)


def atomic_write_csv(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], path: str | Path
) -> None:
    """Write dict rows as CSV atomically; floats use ``repr`` so they round-trip exactly."""

    def fmt(v: Any) -> Any:
        return repr(v) if isinstance(v, float) else v

    def write(fh) -> None:
        w = csv.writer(fh)
        w.writerow(columns)
        for row in rows:
            w.writerow([fmt(row.get(c, "")) for c in columns])

    _atomic_write(Path(path), write, "w")
