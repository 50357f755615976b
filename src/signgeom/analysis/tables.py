"""Collect the per-job CIFAR outputs into the result tables of Figure 3.

* ``step_sizes.csv``: the per-model selections, concatenated, with ``final_test_acc``: the
  selected run's test accuracy at its last epoch (mean over seeds), the paper's ~85% anchor;
* ``smoothness.csv``: the smoothness shards, the headline probe option's and those of
  ``cifar.smoothness.robustness_probe_steps``, concatenated and sorted by (model, optimizer,
  seed, probe_step, epoch); an epoch estimated twice under one probe option (overlapping
  shards) is an error. Its ``probe_step`` column tells the options apart: a reader meaning the
  paper's estimator takes :func:`signgeom.analysis.probe_options.headline_rows`;
* ``metrics.csv``: every run's per-epoch metrics with its status and whether it was selected.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from signgeom.analysis.probe_options import row_options
from signgeom.cli import run_cli
from signgeom.io import read_table, write_table
from signgeom.training.rundir import RUN_KEY, read_runs

log = logging.getLogger(__name__)


def combine_smoothness(shards: Sequence[str | Path]) -> pd.DataFrame:
    """Concatenate smoothness shards (of any probe options); empty shards (more shards than
    epochs) are fine; a shard without a ``probe_step`` column holds ``raw`` estimates."""
    frames = [read_table(p) for p in shards]
    table = pd.concat([f for f in frames if len(f)], ignore_index=True)
    table["probe_step"] = row_options(table)
    key = ["model", "optimizer", "seed", "probe_step", "epoch"]
    duplicated = table.duplicated(key)
    if duplicated.any():
        raise ValueError(f"epochs estimated twice: {table[duplicated][key].values}")
    return table.sort_values(key).reset_index(drop=True)


def collect_metrics(status_files: Sequence[str | Path], step_sizes: pd.DataFrame) -> pd.DataFrame:
    """Long table of per-epoch metrics of every run (a status file listed twice counts once: a
    selected run is also in the grid), with ``status`` and ``selected`` columns."""
    chosen = {(r.model, r.optimizer, float(r.lr)) for r in step_sizes.itertuples()}
    table = read_runs(list(dict.fromkeys(map(str, status_files))))
    keys = zip(table["model"], table["optimizer"], table["lr"].astype(float), strict=True)
    table["selected"] = [key in chosen for key in keys]
    first = RUN_KEY + ["epoch"]
    return table[first + [c for c in table.columns if c not in first]].sort_values(first)


def with_final_test_acc(step_sizes: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """``step_sizes`` plus the selected runs' last-epoch test accuracy (mean over seeds)."""
    last = metrics.dropna(subset=["test_acc"]).sort_values("epoch").groupby(RUN_KEY).tail(1)
    acc = last.groupby(["model", "optimizer", "lr"])["test_acc"].mean().rename("final_test_acc")
    out = step_sizes.merge(acc.reset_index(), on=["model", "optimizer", "lr"], how="left")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-sizes", nargs="+", required=True)
    parser.add_argument("--shards", nargs="+", required=True)
    parser.add_argument("--status", nargs="+", required=True)
    parser.add_argument("--out-step-sizes", type=Path, required=True)
    parser.add_argument("--out-smoothness", type=Path, required=True)
    parser.add_argument("--out-metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    step_sizes = pd.concat([read_table(p) for p in args.step_sizes], ignore_index=True)
    metrics = collect_metrics(args.status, step_sizes)
    outputs = {
        args.out_step_sizes: with_final_test_acc(step_sizes, metrics),
        args.out_smoothness: combine_smoothness(args.shards),
        args.out_metrics: metrics,
    }
    for path, table in outputs.items():
        write_table(table, path)
        log.info("wrote %d rows to %s", len(table), path)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
