"""The answer of an ``L_inf`` solver: a sign vector, its value and a certified upper bound."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinfResult:
    """``max_{s in {-1,1}^d} s^T H s`` as found by one solver.

    ``value = s^T H s`` for the returned ``maximiser`` (a lower bound on the maximum) and
    ``upper`` is a proven upper bound; the answer is certified when ``gap = upper - value`` is at
    most ``tolerance`` (``certified``). ``method`` names the path that produced it
    (``enumeration``, ``identity_plus_rank_k``, ``branch_and_bound``), ``nodes`` the nodes the
    branch and bound visited (0 elsewhere) and ``seconds`` the wall time.
    """

    value: float
    maximiser: np.ndarray
    upper: float
    tolerance: float
    method: str
    nodes: int = 0
    seconds: float = 0.0

    @property
    def gap(self) -> float:
        return self.upper - self.value

    @property
    def certified(self) -> bool:
        return self.gap <= self.tolerance


def default_tolerance(h: np.ndarray) -> float:
    """Absolute certificate tolerance for ``H``: ``1e-9 (sum_ij |H_ij|)``, about ``1e-9 L_inf``
    (``s^T H s <= sum_ij |H_ij|``), far above the round-off of the bounds."""
    return 1e-9 * float(np.abs(h).sum())
