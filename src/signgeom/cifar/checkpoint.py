"""Atomic file writes (tmp file in the same directory + ``os.replace``) and torch save/load.

A reader (or a resumed job) therefore sees either the old or the new file, never a torn one.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from signgeom.io import atomic_output


def _atomic_write(path: Path, write_fn, mode: str) -> None:
    """``write_fn(file)`` into a temporary file, synced to disk, then moved onto ``path``."""
    newline = {"newline": ""} if "b" not in mode else {}
    with atomic_output(path) as tmp, open(tmp, mode, **newline) as fh:
        write_fn(fh)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to ``path`` atomically."""
    _atomic_write(Path(path), lambda fh: torch.save(obj, fh), "wb")


def torch_load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` restricted to tensors/containers/primitives (``weights_only=True``)."""
    return torch.load(path, map_location=map_location, weights_only=True)


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
