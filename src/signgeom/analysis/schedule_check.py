"""Does an estimate schedule draw the same R_hat curve as estimating at every epoch?

Given a smoothness table estimated at every epoch (``stride: 1``) and a schedule
(:mod:`signgeom.training.schedule`), each trajectory's ``R_hat`` is kept at the scheduled epochs
only and read back at every epoch by linear interpolation of ``log R_hat`` in the epoch (the
curve a figure draws through the points). Per trajectory (:func:`schedule_summary`):

- ``n_dense``, ``n_scheduled`` and ``cost_ratio = n_scheduled / n_dense`` (estimates are the
  cost);
- ``max_consecutive_ratio``: the largest ``exp|log R_t+1 - log R_t|`` over consecutive epochs
  (how far R_hat moves from one epoch to the next);
- ``max_rel_error`` and ``median_rel_error``: of ``exp|log(R_interp / R_dense)| - 1`` over the
  epochs;
- ``geomean_dense``, ``geomean_scheduled``, ``geomean_interpolated``: the geometric mean of
  ``R_hat`` over every epoch, over the scheduled epochs only (what a statistic that averages
  over estimates sees: a schedule dense early weighs the early epochs more), and over every
  epoch of the interpolated curve;
- against the trend, the centred rolling mean of ``log R_hat`` over ``window`` epochs (the
  curve without the epoch-to-epoch scatter of single estimates): ``median_scatter`` of the
  every-epoch estimates, ``median_trend_error`` and ``max_trend_error`` of the schedule's curve
  (each ``exp|log ratio| - 1``), and ``follows_trend``: the schedule's curve is no farther from
  the trend, in the median, than the every-epoch estimates are.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import gmean

from signgeom.analysis.probe_options import headline_rows
from signgeom.cli import run_cli
from signgeom.io import read_table, write_table
from signgeom.training.schedule import Schedule, estimate_epochs, schedule_errors

log = logging.getLogger(__name__)

TRAJECTORY = ["model", "optimizer", "seed"]
TREND_WINDOW = 9


def schedule_comparison(
    dense: pd.DataFrame, schedule: Schedule, window: int = TREND_WINDOW
) -> pd.DataFrame:
    """Per trajectory and epoch: ``R_hat`` (dense), ``R_hat_schedule`` (interpolated from the
    scheduled epochs), ``scheduled``, ``rel_error = exp|log ratio| - 1``, ``R_hat_trend`` (the
    centred rolling mean of ``log R_hat`` over ``window`` epochs, fewer at the ends) and the
    ``exp|log ratio| - 1`` of the dense (``scatter``) and scheduled (``trend_error``) curves
    to it."""
    if window < 1:
        raise ValueError(f"window must be at least 1 epoch, got {window}")
    parts = []
    for key, traj in dense.groupby(TRAJECTORY, sort=True):
        traj = traj.sort_values("epoch")
        epochs = traj["epoch"].to_numpy()
        last = int(epochs.max())
        if not np.array_equal(epochs, np.arange(last + 1)):
            raise ValueError(
                f"trajectory {dict(zip(TRAJECTORY, key, strict=True))} is not estimated at every "
                f"epoch 0..{last} (epochs {epochs.tolist()}): estimate it with stride 1"
            )
        chosen = estimate_epochs(last, 1, schedule)
        log_r = np.log(traj["R_hat"].to_numpy())
        interp = np.interp(epochs, chosen, log_r[chosen])
        trend = pd.Series(log_r).rolling(window, center=True, min_periods=1).mean().to_numpy()
        parts.append(
            traj[[*TRAJECTORY, "epoch", "R_hat"]].assign(
                R_hat_schedule=np.exp(interp),
                scheduled=np.isin(epochs, chosen),
                rel_error=np.expm1(np.abs(interp - log_r)),
                R_hat_trend=np.exp(trend),
                scatter=np.expm1(np.abs(log_r - trend)),
                trend_error=np.expm1(np.abs(interp - trend)),
            )
        )
    return pd.concat(parts, ignore_index=True)


def schedule_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per trajectory: the quantities of the module docstring."""
    rows = []
    for key, traj in comparison.groupby(TRAJECTORY, sort=True):
        on = traj[traj["scheduled"]]
        rows.append(
            {
                **dict(zip(TRAJECTORY, key, strict=True)),
                "n_dense": len(traj),
                "n_scheduled": len(on),
                "cost_ratio": len(on) / len(traj),
                "max_consecutive_ratio": float(
                    np.exp(np.abs(np.diff(np.log(traj["R_hat"]))).max())
                ),
                "max_rel_error": float(traj["rel_error"].max()),
                "median_rel_error": float(traj["rel_error"].median()),
                "geomean_dense": gmean(traj["R_hat"]),
                "geomean_scheduled": gmean(on["R_hat"]),
                "geomean_interpolated": gmean(traj["R_hat_schedule"]),
                "median_scatter": float(traj["scatter"].median()),
                "median_trend_error": float(traj["trend_error"].median()),
                "max_trend_error": float(traj["trend_error"].max()),
                "follows_trend": bool(traj["trend_error"].median() <= traj["scatter"].median()),
            }
        )
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoothness", type=Path, required=True, help="estimated at every epoch")
    p.add_argument("--schedule", required=True, help='JSON, e.g. {"dense_until": 4, ...}')
    p.add_argument("--table", type=Path, required=True, help="per-epoch comparison CSV")
    p.add_argument("--summary", type=Path, required=True, help="per-trajectory summary CSV")
    p.add_argument(
        "--window", type=int, default=TREND_WINDOW, help="epochs of the trend's rolling mean"
    )
    a = p.parse_args(argv)
    schedule = json.loads(a.schedule)
    if errors := schedule_errors(schedule):
        raise ValueError("; ".join(errors))
    estimates = headline_rows(read_table(a.smoothness))  # the paper's probe option only
    comparison = schedule_comparison(estimates, schedule, a.window)
    summary = schedule_summary(comparison)
    write_table(comparison, a.table)
    write_table(summary, a.summary)
    for row in summary.itertuples():
        log.info("%s/%s seed %s: %d of %d epochs, max error %.1f%%", row.model, row.optimizer,
                 row.seed, row.n_scheduled, row.n_dense, 100 * row.max_rel_error)  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
