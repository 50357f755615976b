"""Incumbents for ``max_s s^T H s``: rounding and 1-flip local search."""

from __future__ import annotations

import numpy as np


def one_flip(h: np.ndarray, s: np.ndarray) -> tuple[float, np.ndarray]:
    """Improve ``s`` by single sign flips until none helps; returns ``(s^T H s, s)``.

    Flipping ``s_i`` changes ``q = s^T H s`` by ``4 H_ii - 4 s_i (H s)_i``; the best flip is
    taken while it gains, and ``g = H s`` is updated by one column per flip.
    """
    s = np.where(np.asarray(s) < 0, -1.0, 1.0)
    diag = np.diag(h)
    g = h @ s
    q = float(s @ g)
    for _ in range(10 * len(s)):
        gain = 4.0 * diag - 4.0 * s * g
        i = int(np.argmax(gain))
        if gain[i] <= 1e-12 * max(abs(q), 1.0):
            break
        g -= 2.0 * s[i] * h[:, i]
        s[i] = -s[i]
        q += float(gain[i])
    return float(s @ h @ s), s


def multistart(h: np.ndarray, starts: np.ndarray) -> tuple[float, np.ndarray]:
    """Best 1-flip local optimum over the columns of ``starts`` (their signs)."""
    best, best_s = -np.inf, None
    for col in np.atleast_2d(starts.T):
        q, s = one_flip(h, col)
        if q > best:
            best, best_s = q, s
    return best, best_s


def rounding_starts(h: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Starting sign vectors: the top eigenvectors of ``H`` and random combinations of the top
    few (Goemans-Williamson-style hyperplane rounding of the spectral embedding), as columns."""
    w, v = np.linalg.eigh(h)
    top = v[:, ::-1][:, : min(len(w), 8)] * np.sqrt(np.maximum(w[::-1][: min(len(w), 8)], 0))
    rng = np.random.default_rng(seed)
    mix = top @ rng.standard_normal((top.shape[1], count))
    return np.hstack([v[:, ::-1][:, :3], mix])
