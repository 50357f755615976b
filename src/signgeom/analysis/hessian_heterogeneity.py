"""Block heterogeneity of the Hessian: how much its diagonal blocks differ, per snapshot.

From the per-block table (``signgeom.estimate.hessian_param_blocks``), per snapshot (model,
optimizer, lr, seed, epoch) over its blocks ``b`` with ``lambda_max_b > 0``:

- ``sd_log_lambda_max``: the standard deviation (over blocks, ``ddof = 0``) of
  ``ln lambda_max(H_bb)``, the heterogeneity statistic of claim t5;
- ``log10_range_lambda_max``: ``log10(max_b lambda_max_b / min_b lambda_max_b)``;
- ``sd_log_lambda_bar``: the same spread of ``ln lambda_bar_b`` (blocks with
  ``lambda_bar_b > 0``);
- ``n_blocks`` and ``n_nonpositive`` (blocks left out of ``sd_log_lambda_max``);
- ``n_hvp`` and ``seconds``: the snapshot's cost, summed over its blocks.

:func:`per_seed` averages a statistic over the snapshots of chosen trajectories, one value per
seed; :func:`last_snapshots` keeps each run's last estimated epoch (runs of different lengths
compared at their ends).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.cli import run_cli
from signgeom.io import write_table

log = logging.getLogger(__name__)

SNAPSHOT = ["model", "optimizer", "lr", "seed", "epoch"]
COLUMNS = [
    *SNAPSHOT,
    "n_blocks",
    "n_nonpositive",
    "sd_log_lambda_max",
    "log10_range_lambda_max",
    "sd_log_lambda_bar",
    "n_hvp",
    "seconds",
]
STATISTIC = "sd_log_lambda_max"


def _spread(values: pd.Series) -> tuple[float, float, int]:
    """(std of ln x, log10 max/min, count left out) over the finite positive ``values``."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & (x > 0)
    if ok.sum() < 2:
        return np.nan, np.nan, int((~ok).sum())
    logs = np.log(x[ok])
    return float(logs.std()), float((logs.max() - logs.min()) / np.log(10)), int((~ok).sum())


def heterogeneity(blocks: pd.DataFrame) -> pd.DataFrame:
    """One row per snapshot of the per-block table (``COLUMNS``)."""
    rows = []
    for key, group in blocks.groupby(SNAPSHOT, sort=True):
        sd_max, range_max, nonpositive = _spread(group["lambda_max"])
        sd_bar, _, _ = _spread(group["lambda_bar"])
        rows.append(
            {
                **dict(zip(SNAPSHOT, key, strict=True)),
                "n_blocks": len(group),
                "n_nonpositive": nonpositive,
                "sd_log_lambda_max": sd_max,
                "log10_range_lambda_max": range_max,
                "sd_log_lambda_bar": sd_bar,
                "n_hvp": group["n_hvp"].sum() if "n_hvp" in group else np.nan,
                "seconds": group["seconds"].sum() if "seconds" in group else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def last_snapshots(blocks: pd.DataFrame) -> pd.DataFrame:
    """The rows of each run's (model, optimizer, lr, seed) last estimated epoch."""
    run = ["model", "optimizer", "lr", "seed"]
    last = blocks.groupby(run)["epoch"].transform("max")
    return blocks[blocks["epoch"] == last]


def per_seed(
    table: pd.DataFrame, model: str, optimizers: Sequence[str], column: str = STATISTIC
) -> pd.Series:
    """Per seed: the mean of ``column`` over every snapshot of ``model``'s trajectories of
    ``optimizers`` (a seed missing one of them has no value)."""
    rows = table[(table["model"] == model) & table["optimizer"].isin(list(optimizers))]
    out = {}
    for seed, group in rows.groupby("seed"):
        if set(group["optimizer"]) == set(optimizers):
            out[int(seed)] = float(group[column].mean())
    return pd.Series(out, dtype=float)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Per-block Hessian tables -> one table and spreads.")
    p.add_argument("--blocks", nargs="+", required=True, help="per-block tables of the runs")
    p.add_argument("--out-blocks", type=Path, required=True, help="all blocks, one table")
    p.add_argument("--out", type=Path, required=True, help="heterogeneity per snapshot")
    p.add_argument(
        "--last-snapshot", action="store_true", help="only each run's last estimated epoch"
    )
    a = p.parse_args(argv)
    from signgeom.analysis.claims import read_inputs

    blocks = read_inputs(a.blocks, "per-block Hessian")
    if a.last_snapshot:
        blocks = last_snapshots(blocks)
    write_table(blocks, a.out_blocks)
    table = heterogeneity(blocks)
    write_table(table, a.out)
    for row in table.itertuples():
        what = f"{row.model} {row.optimizer} seed {row.seed} epoch {row.epoch}"
        log.info("%s: sd ln lambda_max %.3g, %d blocks", what, row.sd_log_lambda_max, row.n_blocks)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
