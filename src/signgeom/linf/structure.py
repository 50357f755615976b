"""``max_{s in {-1,1}^d} s^T H s`` for a scaled identity plus rank ``k``: ``H = c I + V V^T``.

Then ``s^T H s = c d + ||V^T s||^2``: a convex function of ``z = V^T s`` over the zonotope
``Z = V^T [-1, 1]^d`` in ``R^k``, maximised at a vertex of ``Z``. The vertices are
``V^T sign(V y)`` for ``y`` in the open cells of the central arrangement of the hyperplanes
``v_j^T y = 0`` (``v_j`` the rows of ``V``), so only ``O(d^(k-1))`` sign vectors compete
(Ferrez, Fukuda and Liebling 2005):

* ``k = 1``: ``s = sign(v)``, ``max = c d + ||v||_1^2`` (the paper's ``one_outlier`` family:
  ``c = 1``, ``v = sqrt(lambda_max - 1) q``);
* ``k = 2``: the ``2d`` cells are the arcs between the sorted angles at which some ``v_j^T y``
  changes sign; walking around the circle flips one sign per crossing, so all cells cost
  ``O(d log d)``;
* any ``k``: every cell is a pointed cone with an extreme ray ``w`` on which ``k - 1`` or more
  hyperplanes meet. For each ``(k - 1)``-subset ``S`` of rows, ``w`` spans the null space of
  ``V_S`` and the candidates are ``s_j = sign(v_j^T w)`` off the hyperplanes through ``w`` and
  every sign pattern on them: a superset of the vertices (every candidate is a sign vector, so
  the maximum over it is exact), ``C(d, k-1) 2^(k-1)`` candidates. ``w`` and ``-w`` give
  opposite sign vectors of equal value, so only ``w`` is used.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from signgeom.linf.result import LinfResult, default_tolerance

MAX_CANDIDATES = 50_000_000
"""Refuse a general-``k`` enumeration with more candidate sign vectors than this."""

_CHUNK = 4096


def _signs(x: np.ndarray) -> np.ndarray:
    return np.where(x < 0, -1.0, 1.0)


def max_zonotope_norm(v: np.ndarray) -> tuple[float, np.ndarray]:
    """``(max_s ||V^T s||^2, argmax s)`` over ``s in {-1,1}^d`` for ``V`` of shape ``(d, k)``."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"expected a factor V of shape (d, k), got {v.shape}")
    k = v.shape[1]
    if k == 1:
        s = _signs(v[:, 0])
    elif k == 2:
        s = _rank_two(v)
    else:
        s = _rank_k(v)
    z = v.T @ s
    return float(z @ z), s


def _rank_two(v: np.ndarray) -> np.ndarray:
    """Maximiser for ``k = 2`` by sorting the sign-change angles (module docstring)."""
    d = v.shape[0]
    s = np.ones(d)
    live = np.flatnonzero(np.any(v != 0, axis=1))
    if len(live) == 0:
        return s
    vl = v[live]
    # v_j . (cos a, sin a) = |v_j| cos(a - phi_j) changes sign at a = phi_j +- pi/2.
    phi = np.arctan2(vl[:, 1], vl[:, 0])
    angles = np.mod(np.concatenate([phi + np.pi / 2, phi - np.pi / 2]), 2 * np.pi)
    rows = np.concatenate([np.arange(len(live)), np.arange(len(live))])
    order = np.argsort(angles, kind="stable")
    angles, rows = angles[order], rows[order]
    gaps = np.diff(np.concatenate([angles, [angles[0] + 2 * np.pi]]))
    g = int(np.argmax(gaps))  # start inside the widest cell, after crossing g
    mid = angles[g] + gaps[g] / 2
    s_start = _signs(vl @ np.array([np.cos(mid), np.sin(mid)]))
    walk = np.roll(np.arange(len(angles)), -(g + 1))  # crossings in order from the start
    a, j = angles[walk], rows[walk]
    # After crossing a, sign(v_j . y) is the sign of its derivative -v_j1 sin a + v_j2 cos a.
    after = _signs(-vl[j, 0] * np.sin(a) + vl[j, 1] * np.cos(a))
    z = vl.T @ s_start + np.cumsum(2.0 * after[:, None] * vl[j], axis=0)  # (2n, 2)
    best = int(np.argmax((z * z).sum(axis=1)))
    sl = s_start.copy()
    for t in range(best + 1):
        sl[j[t]] = after[t]
    s[live] = sl
    return s


def _rank_k(v: np.ndarray) -> np.ndarray:
    """Maximiser for general ``k`` over the rays' candidates (module docstring)."""
    d, k = v.shape
    subsets = math.comb(d, k - 1)
    if subsets * 2 ** (k - 1) > MAX_CANDIDATES:
        raise ValueError(
            f"identity plus rank {k} at d = {d}: {subsets * 2 ** (k - 1)} candidate sign vectors "
            f"exceed MAX_CANDIDATES = {MAX_CANDIDATES}"
        )
    scale = np.linalg.norm(v, axis=1)
    patterns = np.array(list(itertools.product((-1.0, 1.0), repeat=k - 1)))  # (2^(k-1), k-1)
    best, best_s = -np.inf, np.ones(d)
    it = itertools.combinations(range(d), k - 1)
    while True:
        chunk = np.array(list(itertools.islice(it, _CHUNK)), dtype=np.intp).reshape(-1, k - 1)
        if len(chunk) == 0:
            break
        if k == 3:  # the null vector of two rows of V is their cross product
            w = np.cross(v[chunk[:, 0]], v[chunk[:, 1]])
        else:
            w = np.linalg.svd(v[chunk], full_matrices=True)[2][:, -1, :]  # (n, k) null vectors
        p = v @ w.T  # (d, n)
        on = np.abs(p) <= 1e-12 * scale[:, None] * np.linalg.norm(w, axis=1)[None, :]
        on[chunk.T, np.arange(len(chunk))] = True
        base = np.where(on, 0.0, _signs(p))
        z0 = v.T @ base  # (k, n)
        count = on.sum(axis=0)
        simple = count == k - 1
        if simple.any():
            vs = v[chunk[simple]]  # (n', k-1, k)
            z = z0[:, simple].T[:, None, :] + np.einsum("pa,nak->npk", patterns, vs)
            val = (z * z).sum(axis=2)
            n_i, p_i = np.unravel_index(int(np.argmax(val)), val.shape)
            if val[n_i, p_i] > best:
                best = float(val[n_i, p_i])
                col = np.flatnonzero(simple)[n_i]
                best_s = base[:, col].copy()
                best_s[chunk[col]] = patterns[p_i]
        for col in np.flatnonzero(~simple):  # more than k - 1 hyperplanes through w
            zero = np.flatnonzero(on[:, col])
            if len(zero) > 20:
                raise ValueError(
                    f"identity plus rank {k}: {len(zero)} rows of V are orthogonal to one ray; "
                    "the candidate set would have 2^{len(zero)} sign vectors"
                )
            full = np.array(list(itertools.product((-1.0, 1.0), repeat=len(zero))))
            z = z0[:, col][None, :] + full @ v[zero]
            val = (z * z).sum(axis=1)
            i = int(np.argmax(val))
            if val[i] > best:
                best = float(val[i])
                best_s = base[:, col].copy()
                best_s[zero] = full[i]
    return best_s


def identity_plus_rank_k(h: np.ndarray, c: float, top: np.ndarray) -> LinfResult:
    """Exact ``max_s s^T H s`` for ``H = c I + Q diag(top - c) Q^T`` where ``Q`` are ``H``'s
    eigenvectors of its ``k = len(top)`` largest eigenvalues ``top >= c`` (known from how ``H``
    was built, e.g. a spectrum family of :mod:`signgeom.quadratic.hessians`).

    ``Q`` is taken from ``eigh(H)``; the maximiser comes from :func:`max_zonotope_norm` and the
    value is ``s^T H s`` of the given ``H``. No search is left open, so ``upper = value``.
    """
    start = time.perf_counter()
    h = np.asarray(h, dtype=np.float64)
    top = np.sort(np.asarray(top, dtype=np.float64))
    if np.any(top < c):
        raise ValueError(f"identity plus rank k: top eigenvalues {top} below the identity's {c}")
    k = len(top)
    _, q = np.linalg.eigh(h)
    v = q[:, -k:] * np.sqrt(top - c)
    _, s = max_zonotope_norm(v)
    value = float(s @ h @ s)
    return LinfResult(
        value,
        s,
        value,
        default_tolerance(h),
        f"identity_plus_rank_{k}",
        0,
        time.perf_counter() - start,
    )
