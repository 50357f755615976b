"""The eigenvalue upper bound on ``max_{x in {-1,1}^n} x^T M x`` and its optimisation.

For every ``u in R^n`` and ``x in {-1,1}^n``, ``x^T M x = x^T (M + diag u) x - sum(u)`` and
``x^T A x <= ||x||^2 lambda_max(A) = n lambda_max(A)``, so

    ``max_x x^T M x <= f(u) = n lambda_max(M + diag u) - sum(u)``    for any symmetric ``M``.

``min_u f(u)`` is the dual of the semidefinite relaxation ``max <M, X>, diag X = 1, X PSD``
(Delorme and Poljak). ``f`` is convex, invariant under ``u -> u + c 1``, and has the
subgradient ``n v^2 - 1`` (``v`` a unit top eigenvector). It is minimised here by L-BFGS on
``f`` itself from a warm start; whatever ``u`` the optimiser stops at, ``f(u)`` is a valid bound,
evaluated once more at the end with a round-off margin.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize

_EPS = np.finfo(np.float64).eps


def eigenvalue_bound(m: np.ndarray, u: np.ndarray) -> tuple[float, np.ndarray]:
    """``(f(u), v)``: the bound ``n lambda_max(M + diag u) - sum(u)`` plus a margin covering the
    eigensolver's round-off (``4 n eps ||M + diag u||_F`` per eigenvalue, times ``n``), and a
    unit top eigenvector ``v``."""
    n = m.shape[0]
    a = m + np.diag(u)
    w, v = scipy.linalg.eigh(a, subset_by_index=[n - 1, n - 1], driver="evr")
    margin = 4.0 * n * n * _EPS * float(np.linalg.norm(a))
    return n * float(w[0]) - float(u.sum()) + margin, v[:, 0]


def optimise_bound(
    m: np.ndarray, u0: np.ndarray | None = None, iterations: int = 60, stop_below: float = -np.inf
) -> tuple[float, np.ndarray, np.ndarray]:
    """``(bound, u, v)`` with ``bound = f(u) >= max_x x^T M x`` after at most ``iterations``
    L-BFGS steps from ``u0`` (default ``-diag(M)``); stops early once the bound falls below
    ``stop_below`` (the node can then be pruned)."""
    m = np.asarray(m, dtype=np.float64)
    n = m.shape[0]
    u = -np.diag(m).copy() if u0 is None else np.asarray(u0, dtype=np.float64).copy()
    best = [np.inf, u, None]

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        a = m + np.diag(x)
        w, v = scipy.linalg.eigh(a, subset_by_index=[n - 1, n - 1], driver="evr")
        f = n * float(w[0]) - float(x.sum())
        if f < best[0]:
            best[0], best[1], best[2] = f, x.copy(), v[:, 0]
        if f < stop_below:
            raise _Pruned
        return f, n * v[:, 0] ** 2 - 1.0

    try:
        scipy.optimize.minimize(
            fun, u, jac=True, method="L-BFGS-B", options={"maxiter": iterations, "gtol": 0.0}
        )
    except _Pruned:
        pass
    value, v = eigenvalue_bound(m, best[1])
    return value, best[1], v


class _Pruned(Exception):
    """The bound fell below the threshold: stop optimising."""
