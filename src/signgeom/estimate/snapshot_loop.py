"""One loop over a training run's snapshots for every estimate along a trajectory.

:class:`SnapshotLoop` sets the device up (strict fp32 numerics), reads the run's status, and
:meth:`SnapshotLoop.estimate` loads each chosen snapshot into one network, calls the
estimator's per-snapshot function, keys its rows by the run (model, optimizer, lr, seed,
epoch), logs a progress line (done/total, rate, ETA) and writes every table atomically.
:func:`trajectory_parser` and :func:`run_with_settings` are the estimators' command line: one
settings object (``signgeom.estimate.estimate_settings``) plus paths.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from signgeom.io import write_rows
from signgeom.progress import Progress
from signgeom.settings import Settings
from signgeom.training.checkpoint import load_snapshot
from signgeom.training.device import setup_device
from signgeom.training.rundir import RunDir

log = logging.getLogger(__name__)

Rows = list[dict]
PerSnapshot = Callable[[int], tuple[Sequence[Rows], str]]
"""epoch -> (rows of each table at that snapshot, a one-line summary for the log)."""


@dataclass(frozen=True)
class Table:
    """An output table: its columns, in order, and where it is written."""

    columns: Sequence[str]
    path: str | Path


def trajectory_parser(settings: type[Settings], description: str) -> argparse.ArgumentParser:
    """The command line of an estimate along a run's trajectory: the flags of its ``settings``
    (``--settings JSON``, or one flag per field) and the paths of the run and of the data."""
    p = argparse.ArgumentParser(description=description)
    settings.add_arguments(p)
    p.add_argument("--run-dir", required=True, help="training run directory (snapshots/)")
    p.add_argument(
        "--data-dir", required=True, help="the task's data (CIFAR-10's batches; charlm's text)"
    )
    return p


def run_with_settings(
    function: Callable[..., Any],
    settings: type[Settings],
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
) -> Any:
    """``function(settings, **paths)``: the ``settings`` of the parsed ``argv``
    (``--settings JSON`` and the flags) and every other argument (the paths) by name."""
    args = parser.parse_args(argv)
    paths = {k: v for k, v in vars(args).items() if k not in settings.argument_names()}
    return function(settings.from_args(args), **paths)


class SnapshotLoop:
    """The snapshots of the run in ``run_dir`` on ``device``; ``optimizer`` names the
    trajectory in the rows (default: the run's own optimizer, from its status)."""

    def __init__(self, run_dir: str | Path, device: str, optimizer: str | None = None) -> None:
        self.dev: torch.device = setup_device(device)
        self.run = RunDir(run_dir)
        self.status: dict = self.run.read_status()
        self.optimizer: str = optimizer if optimizer is not None else self.status["optimizer"]

    def snapshot_epochs(self) -> list[int]:
        """The run's snapshot epochs, sorted."""
        return self.run.snapshot_epochs()

    def key(self, model: str, epoch: int) -> dict:
        """The columns that name a row's run and epoch."""
        lr, seed = self.status.get("lr"), self.status.get("seed")
        return {"model": model, "optimizer": self.optimizer, "lr": lr, "seed": seed, "epoch": epoch}

    def estimate(
        self,
        net: nn.Module,
        model: str,
        epochs: Sequence[int],
        per_snapshot: PerSnapshot,
        tables: Sequence[Table],
        unit: str = "estimate",
    ) -> list[Rows]:
        """``per_snapshot(epoch)`` with ``net`` at each snapshot in ``epochs`` (a snapshot that
        ``load_snapshot`` skips gives no rows); every row keyed by :meth:`key`; one table per
        entry of ``tables``, written atomically at the end. Returns the rows per table."""
        found: list[Rows] = [[] for _ in tables]
        meter = Progress(len(epochs), unit=unit)
        for done, epoch in enumerate(epochs, start=1):
            if not load_snapshot(net, self.run, epoch, self.dev):
                continue
            rows, summary = per_snapshot(epoch)
            key = self.key(model, epoch)
            for table_rows, new in zip(found, rows, strict=True):
                table_rows += [{**key, **row} for row in new]
            meter.update(done)
            log.info("epoch %d | %s | %s", epoch, summary, meter.line())
        for table, table_rows in zip(tables, found, strict=True):
            write_rows(table_rows, table.columns, table.path)
        return found
