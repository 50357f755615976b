"""``L_inf(H) = max_{s in {-1,1}^d} s^T H s`` for symmetric PSD ``H``, by the fastest exact path.

1. known structure ``H = c I + rank k`` (:mod:`signgeom.linf.structure`), any ``d``;
2. enumeration (:mod:`signgeom.linf.enumeration`) for ``d <= enumeration_max_dim``;
3. branch and bound with eigenvalue bounds (:mod:`signgeom.linf.branch_and_bound`), which
   proves its answer or, at a time or node limit, returns the best sign vector and a certified
   upper bound with the gap.
"""

from __future__ import annotations

import time

import numpy as np

from signgeom.linf.branch_and_bound import branch_and_bound
from signgeom.linf.enumeration import enumerate_max
from signgeom.linf.result import LinfResult, default_tolerance
from signgeom.linf.structure import identity_plus_rank_k

CERTIFIED_MAX_DIM = 50
"""Largest ``d`` at which the branch and bound certified every instance of its bench
(``bench/results/bench_linf_proof_cpu.txt``); the quadratic stage refuses larger dense grids."""

ENUMERATION_MAX_DIM = 28
"""Largest ``d`` solved by enumeration: the branch and bound is faster above it (see
``bench/bench_linf.py``)."""


def max_quadratic_form(
    h: np.ndarray,
    structure: tuple[float, np.ndarray] | None = None,
    time_limit: float = np.inf,
    node_limit: int | None = None,
    enumeration_max_dim: int = ENUMERATION_MAX_DIM,
) -> LinfResult:
    """Certified ``max_s s^T H s`` for a symmetric ``(d, d)`` ``H``.

    ``structure = (c, top)`` states that ``H = c I + Q diag(top - c) Q^T`` with ``Q`` the
    eigenvectors of ``H``'s ``len(top)`` largest eigenvalues (from how ``H`` was built, see
    :func:`signgeom.quadratic.hessians.identity_plus_rank_structure`); it is trusted, not
    checked. ``time_limit`` (seconds) and ``node_limit`` cap the branch and bound.
    """
    h = np.asarray(h, dtype=np.float64)
    if h.ndim != 2 or h.shape[0] != h.shape[1]:
        raise ValueError(f"expected one square matrix (d, d), got shape {h.shape}")
    if not np.array_equal(h, h.T):
        raise ValueError("max_s s^T H s: H must be exactly symmetric (use (H + H^T) / 2)")
    if structure is not None:
        return identity_plus_rank_k(h, *structure)
    if h.shape[0] <= enumeration_max_dim:
        start = time.perf_counter()
        value, s = enumerate_max(h)
        return LinfResult(
            value, s, value, default_tolerance(h), "enumeration", 0, time.perf_counter() - start
        )
    return branch_and_bound(h, time_limit=time_limit, node_limit=node_limit)
