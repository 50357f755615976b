"""Aggregate the per-run distances and per-Hessian constants into one row per grid cell.

``dist_ratio`` compares signGD with GD after ``T`` steps. Aggregations over all runs
(rotations x starts) of a cell, chosen by ``quadratic.aggregate``:

* ``ratio_of_means`` (default): ``mean ||x_T^sign|| / mean ||x_T^GD||``;
* ``geometric_mean``: ``exp(mean log(||x_T^sign|| / ||x_T^GD||))``;
* ``median``: median of the per-run ratios.

A GD run that lands exactly on ``x* = 0`` (identity Hessian: one step suffices) makes the ratio
``+inf`` (``1`` if signGD is exactly there too). This is explicit: such cells get
``dist_ratio = inf`` and ``gd_exact_fraction > 0``, never a NaN.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.cli import run_cli
from signgeom.io import atomic_output, read_table

log = logging.getLogger(__name__)

AGGREGATES = ("ratio_of_means", "geometric_mean", "median")
CELL = ["theta_index", "ratio_index"]


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` with ``x/0 = inf`` for ``x > 0`` and ``0/0 = 1``."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.inf)
    np.divide(num, den, out=out, where=den > 0)
    out[(den == 0) & (num == 0)] = 1.0
    return out


def aggregate_ratio(dist_sign: np.ndarray, dist_gd: np.ndarray, how: str) -> float:
    """Aggregate the signGD/GD distance ratio of one cell's runs (see the module docstring)."""
    if how == "ratio_of_means":
        return float(safe_ratio(np.mean(dist_sign), np.mean(dist_gd)))
    ratios = safe_ratio(dist_sign, dist_gd)
    if how == "median":
        return float(np.median(ratios))
    if how == "geometric_mean":
        with np.errstate(divide="ignore"):
            return float(np.exp(np.mean(np.log(ratios))))
    raise ValueError(f"quadratic.aggregate: unknown aggregation {how!r}; use one of {AGGREGATES}")


def summarise(constants: pd.DataFrame, runs: pd.DataFrame, how: str) -> pd.DataFrame:
    """One row per (theta, lambda_ratio) cell. Constants are averaged over rotation draws."""
    if how not in AGGREGATES:
        raise ValueError(
            f"quadratic.aggregate: unknown aggregation {how!r}; use one of {AGGREGATES}"
        )
    for name, table in (("constants", constants), ("runs", runs)):
        values = table.select_dtypes("number")
        if values.isna().any().any():
            bad = values.columns[values.isna().any()].tolist()
            raise ValueError(f"{name} table has NaN in columns {bad}: corrupted or diverged input")
    const = constants.groupby(CELL, sort=True).agg(
        theta=("theta", "first"),
        lambda_ratio=("lambda_ratio", "first"),
        lambda_max=("lambda_max", "first"),
        L2=("L2", "mean"),
        Linf=("Linf", "mean"),
        linf_over_l2=("linf_over_l2", "mean"),
        linf_over_l2_min=("linf_over_l2", "min"),
        linf_over_l2_max=("linf_over_l2", "max"),
        rho_diag=("rho_diag", "mean"),
        prop3_bound=("prop3_bound", "mean"),
        rotations=("rotation", "nunique"),
    )
    rows = []
    for key, cell in runs.groupby(CELL, sort=True):
        sign, gd = cell["dist_sign"].to_numpy(), cell["dist_gd"].to_numpy()
        rows.append(
            {
                "theta_index": key[0],
                "ratio_index": key[1],
                "dist_gd_mean": gd.mean(),
                "dist_sign_mean": sign.mean(),
                "dist_ratio": aggregate_ratio(sign, gd, how),
                "gd_exact_fraction": float(np.mean(gd == 0)),
                "n_runs": len(cell),
            }
        )
    dist = pd.DataFrame(rows).set_index(CELL)
    if len(dist) != len(const):
        raise ValueError(f"runs cover {len(dist)} cells but constants cover {len(const)}")
    table = const.join(dist).reset_index()
    table["aggregate"] = how
    return table


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--constants", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--aggregate", choices=AGGREGATES, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    table = summarise(read_table(args.constants), read_table(args.runs), args.aggregate)
    with atomic_output(args.out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.17g")
    log.info("wrote %d cells to %s", len(table), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
