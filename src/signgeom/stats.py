"""Intervals over independent repeats (seeds)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats


class Interval(NamedTuple):
    """Mean of ``n`` values with its two-sided t-interval at ``level`` (NaN bounds if n < 2)."""

    mean: float
    lo: float
    hi: float
    n: int


def t_interval(values: Sequence[float], level: float) -> Interval:
    """mean ± t_{(1+level)/2, n-1} s / sqrt(n), s the sample standard deviation (ddof 1).

    NaN values are dropped; one value gives NaN bounds (no spread is known), none a NaN mean.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def geometric_t_interval(values: Sequence[float], level: float) -> Interval:
    """``t_interval`` of log(values), mapped back by exp: a geometric mean and its interval,
    for positive ratios whose spread is multiplicative."""
    logs = np.log(np.asarray(values, dtype=float))
    mean, lo, hi, n = t_interval(logs, level)
    return Interval(math.exp(mean), math.exp(lo), math.exp(hi), n)
