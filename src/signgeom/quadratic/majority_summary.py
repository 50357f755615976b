"""Majority vote across workers: speed-up in ``M`` and bits to the target, with intervals.

One row per (geometry, distribution, optimizer, M): the median steps to the target, the
speed-up ``median steps(M = 1) / median steps(M)`` and the uplink bits
``median steps * M * bits_per_worker_step`` (bit model in :mod:`signgeom.quadratic.majority`),
each with a bootstrap interval (every ``M`` resampled independently: its noise draws are its
own). ``inf``: the median run did not reach the target within ``max_steps``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.cli import run_cli
from signgeom.io import read_table, write_table
from signgeom.quadratic.noise_dimension_summary import interval
from signgeom.quadratic.settings import NoiseSummarySettings
from signgeom.quadratic.stochastic import bootstrap_medians

log = logging.getLogger(__name__)

CELL = ["geometry", "distribution", "optimizer"]


def summarise(
    runs: pd.DataFrame, tuning: pd.DataFrame, resamples: int, level: float, seed: int
) -> pd.DataFrame:
    """The table of the module docstring, in the order of ``tuning``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 22]))
    steps = runs.pivot_table(index=[*CELL, "workers"], columns="run", values="steps")
    boot = {
        key: bootstrap_medians(row.to_numpy(dtype=float)[None, :], resamples, rng)[:, 0]
        for key, row in steps.iterrows()
    }
    rows = []
    for row in tuning.to_dict("records"):
        key = tuple(row[c] for c in CELL)
        one = (*key, 1)
        here = (*key, row["workers"])
        median = float(np.median(steps.loc[here]))
        with np.errstate(invalid="ignore", divide="ignore"):
            speedup = float(np.median(steps.loc[one])) / median
            boot_speedup = boot[one] / boot[here]
        bits_scale = row["workers"] * row["bits_per_worker_step"]
        s_lo, s_hi = interval(boot[here], level)
        u_lo, u_hi = interval(boot_speedup, level)
        rows.append(
            {
                **row,
                "median_steps": median,
                "median_steps_lo": float(s_lo),
                "median_steps_hi": float(s_hi),
                "speedup": speedup,
                "speedup_lo": float(u_lo),
                "speedup_hi": float(u_hi),
                "bits": median * bits_scale,
                "bits_lo": float(s_lo) * bits_scale,
                "bits_hi": float(s_hi) * bits_scale,
            }
        )
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--tuning", type=Path, required=True)
    NoiseSummarySettings.add_arguments(parser)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    boot = NoiseSummarySettings.from_args(args)
    table = summarise(
        read_table(args.runs), read_table(args.tuning), boot.resamples, boot.level, boot.seed
    )
    write_table(table, args.out)
    log.info("wrote %d rows to %s", len(table), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
