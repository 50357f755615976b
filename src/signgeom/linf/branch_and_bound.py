"""Branch and bound that proves ``max_{s in {-1,1}^d} s^T H s`` for a symmetric ``H``.

A node fixes the signs ``s_F`` of a set ``F`` and leaves ``s_R`` free. Its objective is
``s_R^T H_RR s_R + 2 s_R^T c + k`` with ``c = H_RF s_F`` and ``k = s_F^T H_FF s_F``;
homogenised with one more sign ``t`` (``s_R = t x_R``) it is ``x^T M x + k`` over
``x = (x_R, t) in {-1,1}^(|R|+1)`` with ``M = [[H_RR, c], [c^T, 0]]``, bounded by
:func:`signgeom.linf.bound.optimise_bound` (the eigenvalue bound, warm-started from the parent).

* Symmetry ``s -> -s``: the first branching variable is fixed to ``+1`` only.
* Incumbent: spectral rounding with 1-flip local search at the root, and the rounding of every
  node's top eigenvector (signs of ``v_R v_t``) completed by ``s_F`` and locally improved.
* Branching: depth first on the free variable whose rounding is most decided (largest
  ``|v_i|``), its rounded sign first.
* A node is pruned when its bound is at most ``incumbent + tolerance``; a node with at most
  ``leaf_size`` free signs is solved by enumeration.
* Certificate: ``upper = max(value, every pruned bound, every open node's bound)``, or the
  root's bound where that is lower (both are valid); it is a proof of ``value >= max - gap``.
  With a node or time limit the open nodes' bounds (re-optimised longer) enter ``upper`` and
  the gap can exceed the tolerance.
"""

from __future__ import annotations

import time

import numpy as np

from signgeom.linf.bound import optimise_bound
from signgeom.linf.enumeration import enumerate_max
from signgeom.linf.local_search import multistart, one_flip, rounding_starts
from signgeom.linf.result import LinfResult, default_tolerance
from signgeom.norms import _blas

_POLISH = 5
"""A stopped search re-optimises its open nodes' bounds with this many times the iterations."""


def branch_and_bound(
    h: np.ndarray,
    tolerance: float | None = None,
    time_limit: float = np.inf,
    node_limit: int | None = None,
    leaf_size: int = 16,
    bound_iterations: int = 60,
) -> LinfResult:
    """Certified ``max_s s^T H s`` (see the module docstring); ``tolerance`` defaults to
    :func:`signgeom.linf.result.default_tolerance`. BLAS and LAPACK run single-threaded: every
    matrix is at most ``d x d``, too small to gain from threads that contend on a shared CPU."""
    with _blas().limit(limits=1):
        return _branch_and_bound(h, tolerance, time_limit, node_limit, leaf_size, bound_iterations)


def _branch_and_bound(
    h: np.ndarray,
    tolerance: float | None,
    time_limit: float,
    node_limit: int | None,
    leaf_size: int,
    bound_iterations: int,
) -> LinfResult:
    start = time.perf_counter()
    h = np.asarray(h, dtype=np.float64)
    d = h.shape[0]
    tol = default_tolerance(h) if tolerance is None else float(tolerance)
    best, best_s = multistart(h, rounding_starts(h, 32))
    if d <= leaf_size + 1:
        value, s = enumerate_max(h)
        return LinfResult(value, s, value, tol, "enumeration", 0, time.perf_counter() - start)

    upper_pruned = -np.inf
    signs = np.zeros(d)
    # stack of (fixed signs, warm-start u over the free variables + t)
    stack: list[tuple[np.ndarray, np.ndarray | None]] = [(signs, None)]
    nodes = 0
    open_bounds: list[float] = []
    root_bound = np.inf
    while stack:
        if nodes >= (node_limit or np.inf) or time.perf_counter() - start > time_limit:
            # a stopped search: its open nodes' bounds, polished, and the root's bound alone
            open_bounds = [_node_bound(h, f, u, _POLISH * bound_iterations)[0] for f, u in stack]
            root_bound = min(root_bound, optimise_bound(h, None, _POLISH * bound_iterations)[0])
            break
        fixed_signs, u0 = stack.pop()
        nodes += 1
        free = np.flatnonzero(fixed_signs == 0)
        fixed = np.flatnonzero(fixed_signs)
        m, k = _reduced(h, fixed_signs, free, fixed)
        if len(free) <= leaf_size:
            value, x = enumerate_max(m)
            value += k
            if value > best:
                best, best_s = value, _complete(fixed_signs, free, x[:-1] * x[-1])
            upper_pruned = max(upper_pruned, value)
            continue
        if u0 is not None and len(u0) != m.shape[0]:
            u0 = None
        bound, u, v = optimise_bound(m, u0, bound_iterations, stop_below=best + tol - k)
        bound += k
        if len(fixed) == 0:
            root_bound = bound
        rounded = np.where(v[:-1] * v[-1] < 0, -1.0, 1.0)
        q, s = one_flip(h, _complete(fixed_signs, free, rounded))
        if q > best:
            best, best_s = q, s
        if bound <= best + tol:
            upper_pruned = max(upper_pruned, bound)
            continue
        j = int(np.argmax(np.abs(v[:-1])))
        i = free[j]
        first = 1.0 if len(fixed) == 0 else rounded[j]
        child_u = np.delete(u, j)
        for sign in ((-first,) if len(fixed) else ()) + (first,):
            child = fixed_signs.copy()
            child[i] = sign
            stack.append((child, child_u))
    upper = min(root_bound, max([best, upper_pruned, *open_bounds]))
    return LinfResult(
        float(best_s @ h @ best_s),
        best_s,
        upper,
        tol,
        "branch_and_bound",
        nodes,
        time.perf_counter() - start,
    )


def _reduced(
    h: np.ndarray, fixed_signs: np.ndarray, free: np.ndarray, fixed: np.ndarray
) -> tuple[np.ndarray, float]:
    """``(M, k)`` of the node (module docstring)."""
    r = len(free)
    m = np.zeros((r + 1, r + 1))
    m[:r, :r] = h[np.ix_(free, free)]
    if len(fixed) == 0:
        return m, 0.0
    sf = fixed_signs[fixed]
    c = h[np.ix_(free, fixed)] @ sf
    m[:r, r] = c
    m[r, :r] = c
    return m, float(sf @ h[np.ix_(fixed, fixed)] @ sf)


def _complete(fixed_signs: np.ndarray, free: np.ndarray, x: np.ndarray) -> np.ndarray:
    s = fixed_signs.copy()
    s[free] = x
    return s


def _node_bound(h: np.ndarray, fixed_signs: np.ndarray, u0, iterations: int):
    free = np.flatnonzero(fixed_signs == 0)
    fixed = np.flatnonzero(fixed_signs)
    m, k = _reduced(h, fixed_signs, free, fixed)
    if u0 is not None and len(u0) != m.shape[0]:
        u0 = None
    bound, u, v = optimise_bound(m, u0, iterations)
    return bound + k, u, v
