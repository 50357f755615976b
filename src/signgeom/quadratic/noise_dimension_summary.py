"""Dense vs sparse noise across dimension: median steps, SGD/signSGD ratios and their slopes in d.

* ``steps.csv``: the tuning table with a bootstrap interval of each median.
* ``ratios.csv``: per ``(d, geometry, momentum)`` the ratio of median steps
  ``SGD / signSGD`` (momentum: ``sgd_momentum / signsgd_momentum``) with a paired bootstrap
  interval (runs resampled jointly: both optimizers share starts and noise).
* ``slopes.csv``: per ``(geometry, momentum)`` the least-squares slope of ``log ratio`` on
  ``log d`` with a bootstrap interval (every ``d`` resampled independently), against the slope
  the theory predicts. The predicted ratio is that of SGD's lower bound to signSGD's upper bound
  in the noise-dominated regime, ``~ d ||sigma||_2^2 / ||sigma||_1^2`` (signSGD gains a factor
  ``d`` under sparse noise, none under dense noise): slope 1 for ``k`` fixed noisy coordinates,
  0 for dense noise. ``verdict`` is ``holds`` when the predicted slope lies inside the interval,
  else ``fails``. Dimensions whose ratio is undefined (a median not reached) are left out of
  the fit and counted in ``dims_left_out``.
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
from signgeom.quadratic.settings import NoiseSummarySettings
from signgeom.quadratic.stochastic import bootstrap_medians

log = logging.getLogger(__name__)

PAIRS = {False: ("sgd", "signsgd"), True: ("sgd_momentum", "signsgd_momentum")}
"""momentum -> (numerator, denominator) of the ratio."""


def interval(samples: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided percentile interval at ``level``, ignoring NaN samples; no interpolation, so
    infinite samples (a median not reached) give infinite ends rather than NaN."""
    tail = 100 * (1 - level) / 2
    samples = np.asarray(samples, dtype=float)
    if np.isnan(samples).all():
        nan = np.full(np.delete(samples.shape, axis), np.nan)
        return nan, nan
    return tuple(
        np.nanpercentile(samples, q, axis=axis, method="inverted_cdf") for q in (tail, 100 - tail)
    )


def run_matrix(runs: pd.DataFrame, keys: dict, optimizers: Sequence[str]) -> np.ndarray:
    """Steps of ``optimizers`` (rows) over runs (columns) for one cell."""
    cell = runs.loc[(runs[list(keys)] == pd.Series(keys)).all(axis=1)]
    table = cell.pivot(index="optimizer", columns="run", values="steps")
    return table.loc[list(optimizers)].to_numpy(dtype=float)


def fitted_slope(log_d: np.ndarray, log_ratio: np.ndarray) -> np.ndarray:
    """Least-squares slopes of ``log_ratio (..., n)`` on ``log_d (n,)``."""
    centred = log_d - log_d.mean()
    return ((log_ratio - log_ratio.mean(axis=-1, keepdims=True)) * centred).sum(-1) / (
        centred**2
    ).sum()


def summarise(
    runs: pd.DataFrame, tuning: pd.DataFrame, resamples: int, level: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(steps, ratios, slopes)`` tables (module docstring)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 21]))
    steps = tuning.copy()
    lo, hi = [], []
    for row in tuning.itertuples():
        keys = dict(dim=row.dim, geometry=row.geometry)
        boot = bootstrap_medians(run_matrix(runs, keys, [row.optimizer]), resamples, rng)[:, 0]
        a, b = interval(boot, level)
        lo.append(float(a))
        hi.append(float(b))
    steps["median_steps_lo"], steps["median_steps_hi"] = lo, hi

    ratio_rows, boot_ratios = [], {}
    for (dim, geometry), cell in tuning.groupby(["dim", "geometry"], sort=True):
        l1_l2 = float(cell["sigma_l1_over_l2"].iloc[0])
        for momentum, pair in PAIRS.items():
            matrix = run_matrix(runs, dict(dim=dim, geometry=geometry), pair)
            median = np.median(matrix, axis=-1)
            boot = bootstrap_medians(matrix, resamples, rng)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = median[0] / median[1]
                boot_ratio = boot[:, 0] / boot[:, 1]
            defined = bool(np.isfinite(ratio) and ratio > 0)
            a, b = interval(boot_ratio, level) if defined else (np.nan, np.nan)
            ratio_rows.append(
                dict(
                    dim=dim,
                    geometry=geometry,
                    momentum=momentum,
                    sigma_l1_over_l2=l1_l2,
                    steps_sgd=median[0],
                    steps_signsgd=median[1],
                    ratio=ratio if defined else np.nan,
                    ratio_lo=a,
                    ratio_hi=b,
                    predicted_ratio_shape=dim / l1_l2**2,
                )
            )
            if defined:
                boot_ratios[(geometry, momentum, dim)] = boot_ratio
    ratios = pd.DataFrame(ratio_rows)

    slope_rows = []
    for (geometry, momentum), cell in ratios.groupby(["geometry", "momentum"], sort=True):
        fit = cell.dropna(subset=["ratio"])
        log_d = np.log(fit["dim"].to_numpy(dtype=float))
        row = dict(
            geometry=geometry,
            momentum=momentum,
            dims_fitted=len(fit),
            dims_left_out=len(cell) - len(fit),
        )
        if len(fit) >= 2:
            slope = float(fitted_slope(log_d, np.log(fit["ratio"].to_numpy())))
            intercept = float(np.log(fit["ratio"]).mean() - slope * log_d.mean())
            with np.errstate(divide="ignore"):
                boot = np.stack(
                    [np.log(boot_ratios[(geometry, momentum, d)]) for d in fit["dim"]], axis=-1
                )
            a, b = interval(fitted_slope(log_d, boot[np.isfinite(boot).all(axis=-1)]), level)
            predicted = float(fitted_slope(log_d, np.log(fit["predicted_ratio_shape"].to_numpy())))
            verdict = "holds" if a <= predicted <= b else "fails"
        else:
            slope = intercept = a = b = predicted = np.nan
            verdict = "undefined"
        row.update(
            slope=slope,
            slope_lo=a,
            slope_hi=b,
            intercept=intercept,
            predicted_slope=predicted,
            verdict=verdict,
        )
        slope_rows.append(row)
    return steps, ratios, pd.DataFrame(slope_rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--tuning", type=Path, required=True)
    NoiseSummarySettings.add_arguments(parser)
    parser.add_argument("--out-steps", type=Path, required=True)
    parser.add_argument("--out-ratios", type=Path, required=True)
    parser.add_argument("--out-slopes", type=Path, required=True)
    args = parser.parse_args(argv)
    boot = NoiseSummarySettings.from_args(args)
    steps, ratios, slopes = summarise(
        read_table(args.runs), read_table(args.tuning), boot.resamples, boot.level, boot.seed
    )
    write_table(steps, args.out_steps)
    write_table(ratios, args.out_ratios)
    write_table(slopes, args.out_slopes)
    log.info("slopes:\n%s", slopes.to_string(index=False))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
