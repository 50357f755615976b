"""The eigenvalue upper bound on ``max_{x in {-1,1}^n} x^T M x`` and its optimisation.

For every ``u in R^n`` and ``x in {-1,1}^n``, ``x^T M x = x^T (M + diag u) x - sum(u)`` and
``x^T A x <= ||x||^2 lambda_max(A) = n lambda_max(A)``, so

    ``max_x x^T M x <= f(u) = n lambda_max(M + diag u) - sum(u)``    for any symmetric ``M``.

``min_u f(u)`` is the dual of the semidefinite relaxation ``max <M, X>, diag X = 1, X PSD``
(Delorme and Poljak). ``f`` is convex, invariant under ``u -> u + c 1``, and has the
subgradient ``n v^2 - 1`` (``v`` a unit top eigenvector). It is minimised here by BFGS on
``f`` itself from a warm start; whatever ``u`` the optimiser stops at, ``f(u)`` is a valid bound,
evaluated once more at the end with a round-off margin.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

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
    BFGS steps from ``u0`` (default ``-diag(M)``); stops early once the bound falls below
    ``stop_below`` (the node can then be pruned).

    BFGS with a weak Wolfe line search (bisection and doubling) minimises the nonsmooth ``f``
    well in practice (Lewis and Overton 2013); ``n <= 100`` keeps the dense inverse-Hessian
    update cheap. The best ``u`` seen is kept.
    """
    m = np.asarray(m, dtype=np.float64)
    n = m.shape[0]
    u = -np.diag(m).copy() if u0 is None else np.asarray(u0, dtype=np.float64).copy()

    def fun(x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        w, v = scipy.linalg.eigh(m + np.diag(x), subset_by_index=[n - 1, n - 1], driver="evr")
        return n * float(w[0]) - float(x.sum()), n * v[:, 0] ** 2 - 1.0, v[:, 0]

    f, g, v = fun(u)
    best_f, best_u = f, u
    inv = np.eye(n) / max(1.0, float(np.abs(np.diag(m)).mean()))
    for _ in range(iterations):
        if f < stop_below or not np.any(g):
            break
        p = -inv @ g
        slope = float(g @ p)
        if slope >= 0:  # not a descent direction: restart from the gradient
            inv = np.eye(n) * (np.linalg.norm(best_u - u) + 1.0) / max(n, 1)
            p, slope = -inv @ g, -float(inv[0, 0] * (g @ g))
        step, lo, hi = 1.0, 0.0, np.inf
        for _ in range(20):  # weak Wolfe conditions
            f_new, g_new, v_new = fun(u + step * p)
            if f_new < best_f:
                best_f, best_u = f_new, u + step * p
            if f_new > f + 1e-4 * step * slope:
                hi = step
            elif float(g_new @ p) < 0.9 * slope:
                lo = step
            else:
                break
            step = 0.5 * (lo + hi) if hi < np.inf else 2.0 * lo
        else:
            break  # no acceptable step: at (numerical) optimality of the nonsmooth f
        s_vec, y_vec = step * p, g_new - g
        sy = float(s_vec @ y_vec)
        if sy > 1e-14 * float(np.linalg.norm(s_vec) * np.linalg.norm(y_vec)):
            rho = 1.0 / sy
            hy = inv @ y_vec
            inv += (rho * rho * float(y_vec @ hy) + rho) * np.outer(s_vec, s_vec) - rho * (
                np.outer(hy, s_vec) + np.outer(s_vec, hy)
            )
        u, f, g, v = u + s_vec, f_new, g_new, v_new
    value, v = eigenvalue_bound(m, best_u)
    return value, best_u, v
