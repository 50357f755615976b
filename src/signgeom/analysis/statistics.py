"""Per-seed statistics over trajectories that count each point once.

Every function reads one seed's estimates or losses: a table indexed by epoch with one column
per trajectory (the optimizer that produced it). Epoch 0 is the shared starting point of every
trajectory: it is counted once in pooled means and left out of comparisons between
trajectories (there it is an exact 1 up to the probes). Logs of non-positive values give a
non-finite statistic, which the claims engine treats as an unusable seed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _log(x: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x.astype(float))


def tail_epochs(last: int, fraction: float) -> range:
    """The last ``k = max(1, ceil(fraction x last))`` training epochs: ``last - k < e <= last``
    (epoch 0, the evaluation before training, is never in it while ``fraction < 1``)."""
    k = max(1, math.ceil(round(fraction * last, 9)))
    return range(max(last - k + 1, 0), last + 1)


def tail_loss_ratio(curves: pd.DataFrame, behind: str, ahead: str, fraction: float) -> float:
    """``exp(mean log L_behind - mean log L_ahead)`` over the tail epochs (:func:`tail_epochs`)
    of the last epoch both curves reached: the ratio of the two losses' geometric means over
    the last ``fraction`` of training, which one epoch's noise moves by ``1/k`` of its log.
    NaN when the curves share no epoch."""
    both = curves[[behind, ahead]].dropna()
    if both.empty:
        return math.nan
    last = int(both.index.max())
    tail = both[both.index.isin(tail_epochs(last, fraction))]
    logs = _log(tail)
    return float(np.exp(logs[behind].mean(skipna=False) - logs[ahead].mean(skipna=False)))


def tail_log_loss(curves: pd.DataFrame, fraction: float) -> pd.Series:
    """Per column: the mean log loss over the tail epochs of the last epoch every column
    reached (empty when they share no epoch)."""
    common = curves.dropna()
    if common.empty:
        return pd.Series(dtype=float)
    tail = common[common.index.isin(tail_epochs(int(common.index.max()), fraction))]
    return _log(tail).mean(skipna=False)


def window_holds_estimates(estimates: pd.DataFrame, last_epoch: float | None) -> bool:
    """Whether ``estimates`` hold a value at ``0 < epoch <= last_epoch`` (None: any epoch)."""
    later = estimates[estimates.index > 0]
    if last_epoch is not None:
        later = later[later.index <= last_epoch]
    return bool(later.notna().to_numpy().any())


def pooled_geomean(estimates: pd.DataFrame, last_epoch: float | None = None) -> float:
    """Geometric mean of every trajectory's estimates at ``0 < epoch <= last_epoch`` (all
    epochs when None), pooled, plus epoch 0 as one point: the geometric mean of the
    trajectories' estimates there. NaN when the window holds no estimate after the start, and
    not finite and positive when an estimate is not (a missing estimate is left out)."""
    later = estimates[estimates.index > 0]
    if last_epoch is not None:
        later = later[later.index <= last_epoch]
    values = later.to_numpy(dtype=float).ravel()
    points = list(_log(pd.Series(values[~np.isnan(values)])))
    if not points:
        return math.nan
    if 0 in estimates.index:
        start = estimates.loc[0].dropna()
        if len(start):
            points.append(float(_log(start).mean()))
    return float(np.exp(np.mean(points)))


def trajectory_ratio(estimates: pd.DataFrame, numerator: str, denominator: str) -> float:
    """``exp(mean over epochs > 0 of log(numerator / denominator))`` over the epochs estimated
    along both trajectories: the geometric mean of their ratio without the shared start."""
    both = estimates.loc[estimates.index > 0, [numerator, denominator]].dropna()
    if both.empty:
        return math.nan
    logs = _log(both)
    return float(np.exp((logs[numerator] - logs[denominator]).mean(skipna=False)))
