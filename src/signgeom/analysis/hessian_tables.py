"""Collect the per-trajectory Hessian outputs into ``hessian.csv`` (with ``R_hat`` joined from
``smoothness.csv`` at the same (model, optimizer, seed, epoch), the headline probe option's
estimate; NaN where the smoothness stride skipped that epoch), ``hessian_blocks.csv`` and
``hessian_density.csv``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from signgeom.analysis.probe_options import headline_rows
from signgeom.cli import run_cli
from signgeom.io import read_table, write_table

KEY = ["model", "optimizer", "seed", "epoch"]


def concat(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Concatenate tables (empty ones skipped), sorted by (model, optimizer, seed, epoch)."""
    frames = [f for f in (read_table(p) for p in paths) if len(f)]
    if not frames:
        raise ValueError(f"no rows in any of {list(map(str, paths))}")
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values([k for k in KEY if k in table], kind="stable")


def join_smoothness(hessian: pd.DataFrame, smoothness: pd.DataFrame) -> pd.DataFrame:
    """Add ``R_hat`` and the smoothness estimate's ``phi`` (as ``phi_smoothness``) of the
    headline probe option (:func:`signgeom.analysis.probe_options.headline_rows`)."""
    if hessian.duplicated(KEY).any():
        raise ValueError("an epoch was estimated twice in the Hessian tables")
    right = headline_rows(smoothness)[[*KEY, "R_hat", "phi"]]
    right = right.rename(columns={"phi": "phi_smoothness"})
    return hessian.merge(right, on=KEY, how="left", validate="one_to_one")


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", nargs="+", required=True)
    p.add_argument("--blocks", nargs="+", required=True)
    p.add_argument("--density", nargs="+", required=True)
    p.add_argument("--smoothness", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--out-blocks", required=True)
    p.add_argument("--out-density", required=True)
    a = p.parse_args(argv)
    tables = {
        a.out: join_smoothness(concat(a.epochs), read_table(a.smoothness)),
        a.out_blocks: concat(a.blocks),
    }
    density = [read_table(f) for f in a.density]
    tables[a.out_density] = pd.concat(density, ignore_index=True)
    for path, table in tables.items():
        write_table(table, path)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
