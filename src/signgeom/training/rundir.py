"""The layout of one training run's directory, in one place for every reader and writer.

::

    <run>/status.json               written last: the Snakemake output marker
    <run>/metrics.csv               one row per epoch (``METRIC_COLUMNS``), epoch 0 included
    <run>/checkpoint.pt             resume state (``signgeom.training.checkpoint``)
    <run>/snapshots/epoch_XXXX.pt   float32 state_dicts read by the smoothness estimator

Snapshots are due at the scheduled epochs (``signgeom.training.schedule.estimate_epochs``: by
default epoch 0, every ``stride``-th epoch and the last epoch); ``status.json`` lists those of
the configured epochs and schedule (``snapshot_epochs``), so older snapshots on disk (a run once
trained further or on a denser schedule) are never used. A file that must go
is set aside (renamed ``<name>.<reason>-<UTC time>``), never deleted. No torch import here.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from signgeom.io import atomic_write_json, read_table, temp_files_glob, write_rows

METRIC_COLUMNS = [
    "epoch",
    "train_loss",
    "train_acc",
    "test_acc",
    "epoch_seconds",
    "diverged",
    "train_loss_eval",
    "test_loss",
]
RUN_KEY = ["model", "optimizer", "lr", "seed"]
Metrics = Sequence[Mapping[str, Any]]


def reported_metrics(metrics: Metrics, epochs: int) -> list[Mapping[str, Any]]:
    """The rows of epochs ``0..epochs`` (a checkpoint may hold more than configured now)."""
    return [m for m in metrics if m["epoch"] <= epochs]


def due_snapshot_epochs(metrics: Metrics, epochs: int, scheduled: Collection[int]) -> list[int]:
    """Finite reported epochs among the ``scheduled`` ones (``status.json``'s list)."""
    return [
        m["epoch"]
        for m in reported_metrics(metrics, epochs)
        if not m["diverged"] and m["epoch"] in scheduled
    ]


def set_aside(path: Path, reason: str) -> Path:
    """Rename ``path`` to ``<name>.<reason>-<UTC timestamp>`` (never deleted); return the name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside, n = path.with_name(f"{path.name}.{reason}-{stamp}"), 1
    while aside.exists():
        aside, n = path.with_name(f"{path.name}.{reason}-{stamp}-{n}"), n + 1
    os.replace(path, aside)
    return aside


@dataclass(frozen=True)
class RunDir:
    """One run directory: its file paths, and reading / writing its status and metrics."""

    path: Path

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    @classmethod
    def of_status(cls, status_file: str | os.PathLike) -> RunDir:
        """The run directory holding ``status_file`` (the workflow's per-run target)."""
        return cls(Path(status_file).parent)

    @property
    def status(self) -> Path:
        return self.path / "status.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    def snapshot(self, epoch: int) -> Path:
        return self.path / "snapshots" / f"epoch_{epoch:04d}.pt"

    def missing_snapshots(
        self, metrics: Metrics, epochs: int, scheduled: Collection[int]
    ) -> list[int]:
        """Due snapshot epochs (``due_snapshot_epochs``) whose file is absent."""
        due = due_snapshot_epochs(metrics, epochs, scheduled)
        return [e for e in due if not self.snapshot(e).exists()]

    def sweep_temp_files(self) -> list[Path]:
        """Delete the hidden temporary files of writes that were killed mid-way (SIGKILL, or
        a SIGTERM during the unwinding); return them. Only the run's own job may call this."""
        snapshots = self.snapshot(0).with_name("epoch_*.pt")
        targets = [self.checkpoint, self.metrics, self.status, snapshots]
        stale = [p for t in targets for p in sorted(t.parent.glob(temp_files_glob(t)))]
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

    def read_status(self) -> dict[str, Any]:
        return json.loads(self.status.read_text())

    def write_status(self, status: Mapping[str, Any]) -> None:
        atomic_write_json(status, self.status)

    def snapshot_epochs(self) -> list[int]:
        """The snapshot epochs listed in ``status.json``, sorted."""
        return sorted(self.read_status()["snapshot_epochs"])

    def write_metrics(self, metrics: Metrics) -> None:
        """``metrics.csv`` (``write_rows``: floats round-trip exactly)."""
        write_rows(metrics, METRIC_COLUMNS, self.metrics)

    def read_metrics(self) -> pd.DataFrame:
        """``metrics.csv`` with the run's key (``RUN_KEY``) and ``status`` as columns."""
        status = self.read_status()
        table = read_table(self.metrics)
        for key in [*RUN_KEY, "status"]:
            table[key] = status[key]
        return table


def read_runs(status_files: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Long table of every run's ``metrics.csv`` with its key and status (``read_metrics``)."""
    frames = [RunDir.of_status(path).read_metrics() for path in status_files]
    if not frames:
        raise FileNotFoundError("no status.json files given or found")
    return pd.concat(frames, ignore_index=True)
