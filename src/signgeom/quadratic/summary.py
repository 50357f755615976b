"""Aggregate the per-run distances and per-Hessian constants into one row per grid cell.

``dist_ratio`` compares signGD with GD after ``T`` steps. Aggregations over all runs
(rotations x starts) of a cell, chosen by ``quadratic.aggregate``:

* ``ratio_of_means`` (default): ``mean ||x_T^sign|| / mean ||x_T^GD||``;
* ``geometric_mean``: ``exp(mean log(||x_T^sign|| / ||x_T^GD||))``;
* ``median``: median of the per-run ratios.

A GD run that lands exactly on ``x* = 0`` (identity Hessian: one step suffices) makes the ratio
``+inf`` (``1`` if signGD is exactly there too). This is explicit: such cells get
``dist_ratio = inf`` and ``gd_exact_fraction > 0``, never a NaN.

Uncertainty (``quadratic.bootstrap``): a two-level bootstrap over a cell's runs, laid out as
``rotations x starts``. One resample draws ``R`` rotations with replacement and, for each drawn
rotation, ``S`` of its starts with replacement; the aggregate of the resample is one bootstrap
value. ``dist_ratio_lo, dist_ratio_hi`` are the ``(1 -/+ level)/2`` percentiles (inverted-CDF,
no interpolation, so infinite values stay infinite) of ``resamples`` values. A resample is a
vector of multiplicities over the ``R S`` runs; the same multiplicities are used in every cell
(common random numbers, like the runs), seeded by ``(seed, 2)``.
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
from signgeom.quadratic.settings import AGGREGATES, SummarySettings

log = logging.getLogger(__name__)

CELL = ["theta_index", "ratio_index"]
RUN = ["rotation", "start"]


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


def bootstrap_weights(
    rotations: int, starts: int, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Multiplicities ``(resamples, rotations * starts)`` of the two-level bootstrap.

    Each row sums to ``rotations * starts``. A rotation drawn ``c`` times contributes ``c``
    independent multinomial draws of its starts, i.e. one ``Multinomial(c S, 1/S)``.
    """
    rot = rng.multinomial(rotations, np.full(rotations, 1.0 / rotations), size=resamples)
    w = rng.multinomial(rot * starts, np.full(starts, 1.0 / starts))  # (B, R, S)
    return w.reshape(resamples, rotations * starts)


def weighted_aggregate(
    dist_sign: np.ndarray, dist_gd: np.ndarray, weights: np.ndarray, how: str
) -> np.ndarray:
    """:func:`aggregate_ratio` of runs repeated by ``weights``, for every row of ``weights``.

    ``dist_sign, dist_gd``: ``(n, cells)``; ``weights``: ``(B, n)`` integer multiplicities, each
    row summing to ``n``. Returns ``(B, cells)``; row ``b`` equals :func:`aggregate_ratio` of
    the runs listed ``weights[b]`` times each.
    """
    w = weights.astype(np.float64)
    if how == "ratio_of_means":
        return safe_ratio(w @ dist_sign, w @ dist_gd)
    ratios = safe_ratio(dist_sign, dist_gd)
    if how == "geometric_mean":
        with np.errstate(divide="ignore"):
            logs = np.log(ratios)
        finite = np.isfinite(logs)
        out = np.exp((w @ np.where(finite, logs, 0.0)) / weights[0].sum())
        pos, neg = w @ (logs == np.inf), w @ (logs == -np.inf)
        out[neg > 0] = 0.0
        out[pos > 0] = np.inf
        out[(pos > 0) & (neg > 0)] = np.nan  # as np.exp(np.mean([inf, -inf]))
        return out
    if how == "median":
        n = int(weights[0].sum())
        ranks = np.array([(n - 1) // 2 + 1, n // 2 + 1])  # 1-based; equal for odd n
        out = np.empty((weights.shape[0], ratios.shape[1]))
        for c in range(ratios.shape[1]):
            order = np.argsort(ratios[:, c], kind="stable")
            cum = np.cumsum(weights[:, order], axis=1)  # (B, n)
            at = np.stack([(cum >= r).argmax(axis=1) for r in ranks])
            out[:, c] = 0.5 * (ratios[order[at[0]], c] + ratios[order[at[1]], c])
        return out
    raise ValueError(f"quadratic.aggregate: unknown aggregation {how!r}; use one of {AGGREGATES}")


def percentile_interval(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """``((1 - level)/2, (1 + level)/2)`` percentiles over axis 0 (inverted CDF)."""
    if not 0 < level < 1:
        raise ValueError(f"quadratic.bootstrap.level: {level} is not in (0, 1)")
    q = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], axis=0, method="inverted_cdf")
    return q[0], q[1]


def summarise(
    constants: pd.DataFrame,
    runs: pd.DataFrame,
    how: str,
    resamples: int = 1000,
    level: float = 0.9,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (theta, lambda_ratio) cell. Constants are averaged over rotation draws;
    ``dist_ratio`` comes with its bootstrap interval ``dist_ratio_lo, dist_ratio_hi``."""
    if how not in AGGREGATES:
        raise ValueError(
            f"quadratic.aggregate: unknown aggregation {how!r}; use one of {AGGREGATES}"
        )
    if resamples < 1:
        raise ValueError(f"quadratic.bootstrap.resamples: {resamples} must be at least 1")
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
    sign, gd, cells = run_matrix(runs)
    if len(cells) != len(const):
        raise ValueError(f"runs cover {len(cells)} cells but constants cover {len(const)}")
    weights = bootstrap_weights(
        runs["rotation"].nunique(),
        runs["start"].nunique(),
        resamples,
        np.random.default_rng(np.random.SeedSequence([seed, 2])),
    )
    lo, hi = percentile_interval(weighted_aggregate(sign, gd, weights, how), level)
    dist = pd.DataFrame(
        {
            "dist_gd_mean": gd.mean(axis=0),
            "dist_sign_mean": sign.mean(axis=0),
            "dist_ratio": [aggregate_ratio(sign[:, c], gd[:, c], how) for c in range(len(cells))],
            "dist_ratio_lo": lo,
            "dist_ratio_hi": hi,
            "gd_exact_fraction": np.mean(gd == 0, axis=0),
            "n_runs": len(sign),
        },
        index=cells,
    )
    table = const.join(dist).reset_index()
    table["aggregate"] = how
    table["ci_level"] = level
    return table


def run_matrix(runs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.MultiIndex]:
    """``(dist_sign, dist_gd)`` as ``(rotations * starts, cells)`` arrays (rows in
    ``(rotation, start)`` order) and the cells' index; every cell must have every run."""
    ordered = runs.sort_values(CELL + RUN, kind="stable")
    cells = pd.MultiIndex.from_frame(ordered[CELL].drop_duplicates())
    n_rot, n_start = runs["rotation"].nunique(), runs["start"].nunique()
    per_cell = n_rot * n_start
    if len(ordered) != len(cells) * per_cell or ordered.duplicated(CELL + RUN).any():
        raise ValueError(
            f"runs table: expected every cell to have {n_rot} rotations x {n_start} starts "
            f"({per_cell} runs), got {len(ordered)} runs over {len(cells)} cells"
        )

    def matrix(column: str) -> np.ndarray:
        return ordered[column].to_numpy(np.float64).reshape(len(cells), per_cell).T

    return matrix("dist_sign"), matrix("dist_gd"), cells


def write_summary(
    settings: SummarySettings, *, constants: str | Path, runs: str | Path, out: str | Path
) -> pd.DataFrame:
    """:func:`summarise` of the tables ``constants`` and ``runs``, written to ``out``."""
    table = summarise(
        read_table(constants),
        read_table(runs),
        settings.aggregate,
        settings.resamples,
        settings.level,
        settings.seed,
    )
    write_table(table, out)
    log.info("wrote %d cells to %s", len(table), out)
    return table


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    SummarySettings.add_arguments(parser)
    parser.add_argument("--constants", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    write_summary(
        SummarySettings.from_args(args), constants=args.constants, runs=args.runs, out=args.out
    )


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
