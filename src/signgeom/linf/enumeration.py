"""Exact ``max_{s in {-1,1}^n} s^T M s`` with its maximiser, by enumeration (any symmetric M).

Meet in the middle as in :func:`signgeom.norms.psd_inf_to_one_norm`: the last sign is fixed to
``+1`` (``q(-s) = q(s)``), the rest split into a low block ``s_L`` (``k`` signs) and a high block
``s_H``; ``s^T M s = [s_L; q_L(s_L); 1] . [2 M_LH s_H; 1; q_H(s_H)]``, so each tile of quadratic
forms is one BLAS product, reduced by ``max`` (and ``argmax`` where it improves).
Cost ``O((k + 2) 2^(n-1))``. BLAS runs single-threaded, as in the norms module (its products
have an inner dimension of ``k + 2``; threads only contend on a shared machine).
"""

from __future__ import annotations

import numpy as np

from signgeom.norms import _blas, sign_vectors

_LOW_BITS = 12
_TILE_ELEMENTS = 1 << 18


def enumerate_max(m: np.ndarray) -> tuple[float, np.ndarray]:
    """``(max_s s^T M s, argmax s)`` over ``s in {-1,1}^n`` for a symmetric ``(n, n)`` ``M``;
    the returned maximiser has ``s[-1] = +1``."""
    with _blas().limit(limits=1, user_api="blas"):
        return _enumerate_max(m)


def _enumerate_max(m: np.ndarray) -> tuple[float, np.ndarray]:
    m = np.asarray(m, dtype=np.float64)
    n = m.shape[0]
    if n == 1:
        return float(m[0, 0]), np.ones(1)
    free = n - 1
    k = min(free, _LOW_BITS)
    low = sign_vectors(k)  # (k, 2^k)
    n_high = 1 << (free - k)
    ll, lh, hh = m[:k, :k], m[:k, k:], m[k:, k:]
    q_low = ((ll @ low) * low).sum(axis=0)
    left = np.vstack([low, q_low, np.ones(1 << k)])  # (k + 2, 2^k)
    rows = max(1, _TILE_ELEMENTS >> k)
    best, best_s = -np.inf, np.ones(n)
    for h0 in range(0, n_high, rows):
        idx = np.arange(h0, min(n_high, h0 + rows))
        high = np.vstack(
            [
                1.0 - 2.0 * ((idx[None, :] >> np.arange(free - k)[:, None]) & 1),
                np.ones((1, len(idx))),
            ]
        )  # (m + 1, rows), last sign +1
        q_high = ((hh @ high) * high).sum(axis=0)
        right = np.hstack([2.0 * (high.T @ lh.T), np.ones((len(idx), 1)), q_high[:, None]])
        tile = right @ left  # (rows, 2^k)
        pos = int(np.argmax(tile))
        if tile.flat[pos] > best:
            best = float(tile.flat[pos])
            r, c = divmod(pos, tile.shape[1])
            best_s = np.concatenate([low[:, c], high[:, r]])
    return best, best_s
