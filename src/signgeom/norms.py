"""Matrix norms of the paper: ``||H||_{inf,1}``, ``rho_diag`` and the Prop. 3 bound.

``||H||_{inf,1} = max_{||x||_inf <= 1} ||H x||_1`` is attained at a vertex ``x in {-1, 1}^d``
(a convex function is maximised at a vertex of the cube), so it is computed exactly by
enumerating sign vectors. Computing it is NP-hard in general (Rohn 2000); the enumeration costs
``O(d 2^(d-1))`` and is refused above a configurable dimension.

For symmetric PSD ``H`` (every Hessian of Figure 2) ``||H||_{inf,1} = max_s s^T H s``, which
:func:`psd_inf_to_one_norm` evaluates as one matrix product; :func:`exact_inf_to_one_norm`
picks that path for matrices that pass :func:`is_psd` and the general one otherwise.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt
from threadpoolctl import ThreadpoolController

DEFAULT_MAX_EXACT_DIM = 30
"""Largest dimension for which the exact norms enumerate (2^29 sign vectors). On a busy 2-core
CPU the PSD path takes about 1.5 s per matrix at d = 30 (35 ms at d = 24); the general path is
about 40x slower (see ``bench/bench_linf.py``)."""

_PSD_TOL = {"float64": 1e-10, "float32": 1e-6}


def psd_tolerance(dtype: npt.DTypeLike) -> float:
    """Relative tolerance ``tol`` of the PSD test ``lambda_min >= -tol * max |lambda|`` for a
    matrix whose entries were computed in ``dtype``.

    One test, two round-offs: float64 matrices formed exactly (the quadratic stage's Hessians,
    eigenvalues by LAPACK) allow ``1e-10`` (about ``5e5`` float64 ulps); a network Hessian's
    principal blocks, assembled from Hessian-vector products, allow float32's ``1e-6`` (about
    ``8`` float32 ulps) whatever the estimate's precision, so fp32 and fp64 estimates classify a
    block alike.
    """
    return _PSD_TOL[np.dtype(dtype).name]


_PSD_LOW_BITS = 12
"""Signs in the low block of :func:`psd_inf_to_one_norm` (columns of its product tiles)."""

_PSD_TILE_ELEMENTS = 1 << 18
"""Quadratic forms per product tile of :func:`psd_inf_to_one_norm` (2 MiB of float64)."""

_TILE_ELEMENTS = 1 << 13
"""Float64 values in one working tile of the blocked enumeration (64 KiB: stays in cache)."""

_LOW_BITS = 10
"""Signs in the low block: its 2^10 partial products are reused for every high block."""


@cache
def _blas() -> ThreadpoolController:
    """The BLAS libraries loaded with NumPy (inspected once)."""
    return ThreadpoolController()


class DimensionTooLargeError(ValueError):
    """The exact ``||H||_{inf,1}`` was asked for a dimension above the configured limit."""


def sign_vectors(n: int) -> np.ndarray:
    """All ``2^n`` vectors of ``{-1, 1}^n`` as the columns of an ``(n, 2^n)`` float array.

    Column ``j`` has entry ``i`` equal to ``-1`` where bit ``i`` of ``j`` is set.
    """
    bits = (np.arange(1 << n)[None, :] >> np.arange(n)[:, None]) & 1
    return 1.0 - 2.0 * bits


def inf_to_one_norm(h: np.ndarray, max_dim: int = DEFAULT_MAX_EXACT_DIM) -> np.ndarray:
    """Exact ``||H||_{inf,1} = max_{s in {-1,1}^d} ||H s||_1`` for one or a stack of matrices.

    Two reductions make the enumeration cheap:

    * symmetry ``||H(-s)||_1 = ||H s||_1``: the last sign is fixed to ``+1``
      (``2^(d-1)`` vectors instead of ``2^d``);
    * blocking (meet in the middle): split the free signs into a low block ``s_L``
      (``k`` signs) and a high block ``s_H``; then ``H s = a(s_L) + b(s_H)`` with
      ``a = H_L s_L + h_d`` and ``b = H_H s_H``, so every ``H s`` is one vector addition of
      precomputed partial products instead of a matrix-vector product.

    Args:
        h: array of shape ``(..., d, d)`` (any real matrices, not only symmetric ones).
        max_dim: refuse ``d > max_dim`` with :class:`DimensionTooLargeError`.

    Returns:
        array of shape ``h.shape[:-2]`` with the norms.
    """
    stack, batch_shape = _square_stack(h, max_dim)
    d = stack.shape[-1]
    if d == 1:
        return np.abs(stack[:, 0, 0]).reshape(batch_shape)

    free = d - 1
    low_bits = min(free, _LOW_BITS)
    low = sign_vectors(low_bits)  # (k, 2^k)
    high = sign_vectors(free - low_bits)  # (m, 2^m)
    n_low, n_high = low.shape[1], high.shape[1]
    # A tile holds ||H s||_1 for `mats` matrices x `highs` high blocks x all 2^k low blocks;
    # it is accumulated row by row, |a_i + b_i|, and stays in cache.
    highs = max(1, min(n_high, _TILE_ELEMENTS // n_low))
    mats = max(1, _TILE_ELEMENTS // (highs * n_low))
    acc = np.empty((mats, highs, n_low))
    tmp = np.empty_like(acc)
    result = np.empty(stack.shape[0])
    for m0 in range(0, stack.shape[0], mats):
        block = stack[m0 : m0 + mats]
        nb = block.shape[0]
        a = (block[:, :, :low_bits] @ low + block[:, :, free:])[:, :, None, :]  # (b, d, 1, 2^k)
        b = (block[:, :, low_bits:free] @ high)[:, :, :, None]  # (b, d, 2^m, 1)
        best = np.full(nb, -np.inf)
        for h0 in range(0, n_high, highs):
            nh = min(highs, n_high - h0)
            r, t = acc[:nb, :nh], tmp[:nb, :nh]
            np.add(a[:, 0], b[:, 0, h0 : h0 + nh], out=r)
            np.abs(r, out=r)
            for i in range(1, d):
                np.add(a[:, i], b[:, i, h0 : h0 + nh], out=t)
                np.abs(t, out=t)
                r += t
            np.maximum(best, r.reshape(nb, -1).max(axis=1), out=best)
        result[m0 : m0 + nb] = best
    return result.reshape(batch_shape)


def brute_force_inf_to_one_norm(h: np.ndarray) -> float:
    """Reference ``||H||_{inf,1}``: materialise all ``2^d`` sign vectors, take ``max ||H s||_1``."""
    h = np.asarray(h, dtype=np.float64)
    signs = sign_vectors(h.shape[-1])  # (d, 2^d)
    return float(np.abs(h @ signs).sum(axis=0).max())


def is_psd(h: np.ndarray, tol: float = psd_tolerance(np.float64)) -> np.ndarray:
    """Whether symmetric matrices ``(..., d, d)`` are PSD up to round-off.

    ``H`` counts as PSD when it is symmetric and ``lambda_min >= -tol * max_i |lambda_i|``.
    """
    h = np.asarray(h, dtype=np.float64)
    symmetric = np.all(h == np.swapaxes(h, -1, -2), axis=(-2, -1))
    eig = np.linalg.eigvalsh(h)
    scale = np.abs(eig).max(axis=-1)
    return symmetric & (eig[..., 0] >= -tol * scale)


def _check_dim(d: int, max_dim: int) -> None:
    if d > max_dim:
        raise DimensionTooLargeError(
            f"exact ||H||_inf,1 enumerates 2^{d - 1} sign vectors; d = {d} exceeds the limit "
            f"max_dim = {max_dim} (raise it knowingly: the cost doubles with every dimension)"
        )


def _square_stack(h: np.ndarray, max_dim: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """``h`` (..., d, d) as a float64 stack (n, d, d) and its batch shape; refuses non-square
    input and ``d > max_dim``."""
    h = np.asarray(h, dtype=np.float64)
    if h.ndim < 2 or h.shape[-1] != h.shape[-2]:
        raise ValueError(f"expected square matrices of shape (..., d, d), got {h.shape}")
    _check_dim(h.shape[-1], max_dim)
    return h.reshape(-1, h.shape[-1], h.shape[-1]), h.shape[:-2]


def psd_inf_to_one_norm(h: np.ndarray, max_dim: int = DEFAULT_MAX_EXACT_DIM) -> np.ndarray:
    """``||H||_{inf,1} = max_{s in {-1,1}^d} s^T H s``, valid for symmetric PSD ``H`` only.

    For PSD ``H``, ``t^T H s <= sqrt(t^T H t) sqrt(s^T H s)`` (Cauchy-Schwarz in the
    ``H``-semi-inner product), so the bilinear maximum ``max_{s,t} t^T H s = ||H||_{inf,1}`` is
    attained on the diagonal ``t = s``. The last sign is fixed to ``+1`` (``q(-s) = q(s)``) and
    the other signs are split into a low block ``s_L`` (``k`` signs) and a high block ``s_H``
    (meet in the middle):

    ``s^T H s = [s_L; q_L(s_L); 1] . [2 H_LH s_H; 1; q_H(s_H)]``

    with ``q_L = s_L^T H_LL s_L`` and ``q_H = s_H^T H_HH s_H``. All ``2^(d-1)`` quadratic forms
    are then one matrix product ``(2^m, k + 2) @ (k + 2, 2^k)`` (BLAS), computed in tiles that
    are reduced by ``max`` as they are produced. Cost ``O((k + 2) 2^(d-1))`` flops and
    ``O(d 2^(d/2))`` memory; small matrices are batched into one product per tile, and large
    ones are screened in float32 first (:func:`_screened_max`; the result is still the float64
    maximum). BLAS runs single-threaded here: the products have an inner dimension of only
    ``k + 2``, and a multi-threaded BLAS on an oversubscribed machine was 25 times slower.

    Args:
        h: symmetric PSD matrices ``(..., d, d)`` (not checked here: see :func:`is_psd` and
            :func:`exact_inf_to_one_norm`).
        max_dim: refuse ``d > max_dim`` with :class:`DimensionTooLargeError`.
    """
    stack, batch_shape = _square_stack(h, max_dim)
    d = stack.shape[-1]
    if d == 1:
        return np.abs(stack[:, 0, 0]).reshape(batch_shape)
    free = d - 1
    k = min(free, _PSD_LOW_BITS)
    m = free - k
    low = sign_vectors(k)  # (k, 2^k)
    high = np.vstack([sign_vectors(m), np.ones((1, 1 << m))])  # (m + 1, 2^m), last sign +1
    with _blas().limit(limits=1, user_api="blas"):
        out = _psd_max_quadratic_form(stack, low, high)
    return out.reshape(batch_shape)


def _psd_max_quadratic_form(stack: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``max_s s^T H s`` per matrix of ``stack (n, d, d)``; ``low``/``high`` are the sign blocks."""
    k = low.shape[0]
    n_low, n_high = 1 << k, high.shape[1]
    rows = max(1, _PSD_TILE_ELEMENTS // n_low)  # high vectors per tile
    mats = max(1, rows // n_high)  # matrices per tile (small d)
    result = np.empty(stack.shape[0])
    buffer = np.empty(mats * min(rows, n_high) * n_low)  # one tile, reused (no page faults)
    for m0 in range(0, stack.shape[0], mats):
        block = stack[m0 : m0 + mats]
        nb = block.shape[0]
        ll, lh, hh = block[:, :k, :k], block[:, :k, k:], block[:, k:, k:]
        q_low = ((ll @ low) * low).sum(axis=1)  # (b, 2^k)
        q_high = ((hh @ high) * high).sum(axis=1)  # (b, 2^m)
        left = np.concatenate(
            [np.broadcast_to(low, (nb, k, n_low)), q_low[:, None], np.ones((nb, 1, n_low))],
            axis=1,
        )  # (b, k + 2, 2^k)
        right = np.concatenate(
            [2.0 * (high.T @ np.swapaxes(lh, 1, 2)), np.ones((nb, n_high, 1)), q_high[..., None]],
            axis=2,
        )  # (b, 2^m, k + 2)
        if nb == 1 and n_high > rows:  # large d: screen in float32, confirm in float64
            result[m0] = _screened_max(left[0], right[0], rows)
            continue
        best = np.full(nb, -np.inf)
        for h0 in range(0, n_high, rows):
            r = right[:, h0 : h0 + rows]
            tile = buffer[: nb * r.shape[1] * n_low].reshape(nb, r.shape[1], n_low)
            np.matmul(r, left, out=tile)  # (b, rows, 2^k): every s^T H s of the tile
            np.maximum(best, tile.reshape(nb, -1).max(axis=1), out=best)
        result[m0 : m0 + nb] = best
    return result


def _screened_max(left: np.ndarray, right: np.ndarray, rows: int) -> float:
    """``max(right @ left)`` exactly as in float64, at about float32 cost.

    ``left = [s_L; q_L; 1]`` ``(k + 2, 2^k)`` and ``right = [2 c; 1; q_H]`` ``(2^m, k + 2)`` as in
    :func:`psd_inf_to_one_norm`. Both are scaled by a power of two (exact) to ``max|.| <= 1``
    and every row maximum is first computed in float32. An entry of the product is a dot product
    of ``n = k + 2`` terms, so its float32 error (inputs rounded, any summation order) is below
    ``err = (n + 2) 2^-23 sum_i |r_i l_i|`` (twice the textbook ``gamma_n`` bound), with
    ``sum_i |r_i l_i| <= ||2 c||_1 + max|q_L| + |q_H|``. A row whose float32 maximum plus
    ``err`` is below the largest float32 maximum minus its ``err`` cannot hold the maximum;
    the remaining rows are recomputed in float64. Worst case (all rows tie, e.g. a diagonal
    ``H``): every row is recomputed, 1.5 times the float64 cost.
    """
    k = left.shape[0] - 2
    # Scale each factor separately by a power of two: the product scales exactly.
    sl = 2.0 ** -np.ceil(np.log2(np.abs(left).max()))
    sr = 2.0 ** -np.ceil(np.log2(np.abs(right).max()))
    l32 = (left * sl).astype(np.float32)
    r32 = (right * sr).astype(np.float32)
    n_high = right.shape[0]
    row_max = np.empty(n_high, np.float32)
    tile = np.empty((rows, left.shape[1]), np.float32)
    for h0 in range(0, n_high, rows):
        t = tile[: min(rows, n_high - h0)]
        np.matmul(r32[h0 : h0 + rows], l32, out=t)
        t.max(axis=1, out=row_max[h0 : h0 + rows])
    terms = np.abs(right[:, :k]).sum(axis=1) + np.abs(left[k]).max() + np.abs(right[:, k + 1])
    err = (k + 4) * 2.0**-23 * terms * (sl * sr) + 1e-30  # + underflow margin
    approx = row_max.astype(np.float64)
    threshold = float(np.max(approx - err))
    if not np.isfinite(threshold):
        candidates = np.arange(n_high)
    else:
        candidates = np.flatnonzero(approx + err >= threshold)
    best = -np.inf
    for c0 in range(0, len(candidates), rows):
        best = max(best, float((right[candidates[c0 : c0 + rows]] @ left).max()))
    return best


def exact_inf_to_one_norm(
    h: np.ndarray,
    max_dim: int = DEFAULT_MAX_EXACT_DIM,
    psd_tol: float = psd_tolerance(np.float64),
) -> np.ndarray:
    """Exact ``||H||_{inf,1}`` choosing the algorithm per matrix.

    PSD matrices (:func:`is_psd`) take :func:`psd_inf_to_one_norm` (``max_s s^T H s``, one BLAS
    product); every other matrix takes the general :func:`inf_to_one_norm`
    (``max_s ||H s||_1``). For a matrix within round-off of PSD (``lambda_min`` in
    ``[-tol max|lambda|, 0)``) the two differ by at most ``2 d tol max|lambda|``.
    """
    stack, batch_shape = _square_stack(h, max_dim)
    psd = is_psd(stack, psd_tol)
    out = np.empty(stack.shape[0])
    if psd.any():
        out[psd] = psd_inf_to_one_norm(stack[psd], max_dim)
    if not psd.all():
        out[~psd] = inf_to_one_norm(stack[~psd], max_dim)
    return out.reshape(batch_shape)


def lambda_max(h: np.ndarray) -> np.ndarray:
    """Largest eigenvalue of symmetric matrices ``(..., d, d)``: ``L_2 = ||H||_2`` for PSD ``H``."""
    return np.linalg.eigvalsh(np.asarray(h, dtype=np.float64))[..., -1]


def rho_diag(h: np.ndarray) -> np.ndarray:
    """Diagonal concentration ``rho_diag(H) = sum_i |H_ii| / sum_ij |H_ij|`` in ``[1/d, 1]``."""
    h = np.asarray(h, dtype=np.float64)
    diag = np.abs(np.diagonal(h, axis1=-2, axis2=-1)).sum(axis=-1)
    return diag / np.abs(h).sum(axis=(-2, -1))


def prop3_bound(h: np.ndarray) -> np.ndarray:
    """Prop. 3 upper bound on ``||H||_{inf,1}`` for PSD ``H``: ``rho_diag(H)^-1 sum_i lambda_i``.

    ``sum_i lambda_i = trace(H)``.
    """
    h = np.asarray(h, dtype=np.float64)
    return np.trace(h, axis1=-2, axis2=-1) / rho_diag(h)
