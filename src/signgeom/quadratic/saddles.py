"""Du et al.'s (2017) chain of strict saddles (the "tube", mirrored into the "octopus").

Du, Jin, Lee, Jordan, Singh, Poczos, "Gradient descent can take exponential time to escape
saddle points", NeurIPS 2017 (arXiv:1705.10412), Sec. 4: on ``R^d`` with parameters
``L`` (curvature of the wells), ``gamma`` (of the escape direction) and ``tau`` (the tube's
width), write ``u_j = |x_j|`` (the mirror that makes every saddle an interior point) and let
the *active index* ``i(x)`` be the first ``j`` with ``u_j <= 2 tau`` (``d + 1`` if none). Then

* Eq. (6), ``i < d``, ``u_i <= tau``:
  ``f = sum_{j<i} L (u_j - 4 tau)^2 - gamma u_i^2 + sum_{j>i} L u_j^2 - (i - 1) nu``;
* Eq. (7), ``i < d``, ``tau < u_i <= 2 tau``:
  ``f = sum_{j<i} L (u_j - 4 tau)^2 + g(u_i, u_{i+1}) + sum_{j>i+1} L u_j^2 - (i - 1) nu``;
* Eqs. (8), (9), ``i = d``: the same without the ``j > i`` terms, ``g`` replaced by ``g1(u_d)``;
* Eq. (10), ``i = d + 1``: ``f = sum_j L (u_j - 4 tau)^2 - d nu``;

with the splines ``g(a, b) = g1(a) + g2(a) b^2``,

* ``g1(a) = -gamma a^2 + (10 gamma - 14 L)/(3 tau) (a - tau)^3 + (5 L - 3 gamma)/(2 tau^2)
  (a - tau)^4``,
* ``g2(a) = -gamma - 10 (L + gamma)/tau^3 (a - 2 tau)^3 - 15 (L + gamma)/tau^4 (a - 2 tau)^4
  - 6 (L + gamma)/tau^5 (a - 2 tau)^5``,

and ``nu = 4 L tau^2 - g1(2 tau) = (37 L + 13 gamma) tau^2 / 6`` (the equations as a public
implementation labels them with Du et al.'s numbers: github.com/zhishenhuang/PPD, ``octopus.m``,
``g.m``, ``g1.m``; re-derived and tested here, not copied). ``g1`` joins ``-gamma a^2``
at ``a = tau`` to ``L (a - 4 tau)^2 - nu`` at ``a = 2 tau`` with equal value, slope and
curvature; ``g2`` runs from ``L`` to ``-gamma`` with zero slope at both ends, so ``f`` is
``C^2`` across every junction inside the tube (``tests/test_saddles.py`` checks this).

**Saddles.** ``s_k = (4 tau, ..., 4 tau, 0, ..., 0)`` with ``k - 1`` entries ``4 tau``,
``k = 1..d``, are the critical points; ``f(s_k) = -(k - 1) nu`` and
``Hess f(s_k) = diag(2L, ..., 2L, -2 gamma, 2L, ..., 2L)`` (``-2 gamma`` at position ``k``):
each is a strict saddle with exactly one escape direction ``e_k``. The minima are
``(+-4 tau, ..., +-4 tau)`` with ``f = -d nu``.

**Domain and extension.** Du et al. define ``f`` on the tube (``u_j in [2 tau, 6 tau]`` for
``j < i``, ``u_i <= 2 tau``, ``u_j <= tau`` for ``j > i``) and extend it to ``R^d`` by
Whitney's theorem, which constructs nothing. Here the formulas above are used everywhere (the
active index decides the piece whatever the other coordinates are): a function on all of
``R^d``, equal to Du et al.'s on the tube, smooth inside every piece, but discontinuous where the
active index changes outside the tube. :func:`in_tube` says where an iterate is, and the run
table counts the iterates outside it.

**Rotation.** ``f_Q(y) = f(Q^T y)`` for a rotation ``Q``; its saddles are ``Q s_k``, its
gradient ``Q grad f(Q^T y)``. The optimizers run on ``y``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tube:
    """Du et al.'s function in ``dim`` dimensions with parameters ``L``, ``gamma``, ``tau``."""

    dim: int
    L: float
    gamma: float
    tau: float

    def __post_init__(self) -> None:
        if self.dim < 2:
            raise ValueError(f"the tube needs d >= 2, got d = {self.dim}")
        for name in ("L", "gamma", "tau"):
            if not getattr(self, name) > 0:
                raise ValueError(f"tube parameter {name} must be > 0, got {getattr(self, name)}")

    @property
    def nu(self) -> float:
        """Drop of ``f`` from one saddle to the next: ``(37 L + 13 gamma) tau^2 / 6``."""
        return (37.0 * self.L + 13.0 * self.gamma) * self.tau**2 / 6.0

    @property
    def f_min(self) -> float:
        """The minimum value ``-d nu``."""
        return -self.dim * self.nu

    def saddle(self, k: int) -> np.ndarray:
        """The ``k``-th saddle ``s_k`` (``k = 1..d``); ``k = d + 1`` gives the minimum."""
        if not 1 <= k <= self.dim + 1:
            raise ValueError(f"saddle index must be in 1..{self.dim + 1}, got {k}")
        x = np.zeros(self.dim)
        x[: k - 1] = 4.0 * self.tau
        return x

    def saddle_hessian(self, k: int) -> np.ndarray:
        """The stated Hessian at ``s_k``: ``2L I`` with ``-2 gamma`` at ``(k, k)``."""
        h = np.full(self.dim, 2.0 * self.L)
        if k <= self.dim:
            h[k - 1] = -2.0 * self.gamma
        return np.diag(h)

    def g1(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``g1(a)`` and ``g1'(a)``."""
        L, gm, t = self.L, self.gamma, self.tau
        c3, c4 = (10.0 * gm - 14.0 * L) / (3.0 * t), (5.0 * L - 3.0 * gm) / (2.0 * t**2)
        s = a - t
        return -gm * a**2 + c3 * s**3 + c4 * s**4, -2.0 * gm * a + 3.0 * c3 * s**2 + 4.0 * c4 * s**3

    def g2(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``g2(a)`` and ``g2'(a)``."""
        p, t = self.L + self.gamma, self.tau
        s = a - 2.0 * t
        value = -self.gamma - p * (10.0 * s**3 / t**3 + 15.0 * s**4 / t**4 + 6.0 * s**5 / t**5)
        slope = -30.0 * p / t**3 * s**2 - 60.0 * p / t**4 * s**3 - 30.0 * p / t**5 * s**4
        return value, slope

    def active_index(self, x: np.ndarray) -> np.ndarray:
        """``i(x)``: 1-based index of the first ``|x_j| <= 2 tau``, ``d + 1`` if none (batched)."""
        near = np.abs(np.atleast_2d(x)) <= 2.0 * self.tau
        return np.where(near.any(axis=1), near.argmax(axis=1) + 1, self.dim + 1)

    def in_tube(self, x: np.ndarray) -> np.ndarray:
        """Whether each row lies in Du et al.'s domain (where ``f`` is theirs, not extended)."""
        u = np.abs(np.atleast_2d(x))
        j = np.arange(1, self.dim + 1)
        i = self.active_index(u)[:, None]
        before = (j < i) & ((u < 2.0 * self.tau) | (u > 6.0 * self.tau))
        after = (j > i) & (u > self.tau)
        return ~(before | after).any(axis=1)

    def value_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``f`` and ``grad f`` at every row of ``x`` (shape ``(n, d)`` or ``(d,)``)."""
        x = np.asarray(x, dtype=np.float64)
        single = x.ndim == 1
        x2 = np.atleast_2d(x)
        n, d = x2.shape
        L, gm, t = self.L, self.gamma, self.tau
        u = np.abs(x2)
        i = self.active_index(u)  # 1-based, d + 1 in the final region
        j = np.arange(1, d + 1)[None, :]
        ii = i[:, None]
        rows = np.arange(n)
        # wells: coordinates before i around 4 tau, after i around 0
        before, after = j < ii, j > ii
        value = np.where(before, L * (u - 4.0 * t) ** 2, 0.0) + np.where(after, L * u**2, 0.0)
        slope = np.where(before, 2.0 * L * (u - 4.0 * t), 0.0) + np.where(after, 2.0 * L * u, 0.0)
        f = value.sum(axis=1) - (i - 1) * self.nu  # Eq. (10): the wells alone, i - 1 = d
        active = i <= d
        if active.any():
            r = rows[active]
            k = i[active] - 1  # 0-based active coordinate
            a = u[r, k]
            g1v, g1s = self.g1(a)
            inner = a <= t
            # active coordinate: -gamma a^2 (Eqs. 6, 8) or g1(a) (Eqs. 7, 9)
            f[r] += np.where(inner, -gm * a**2, g1v)
            slope[r, k] = np.where(inner, -2.0 * gm * a, g1s)
            # Eq. (7): the next coordinate's L b^2 becomes g2(a) b^2
            spline = ~inner & (k + 1 < d)
            if spline.any():
                rs, ks, As = r[spline], k[spline], a[spline]
                b = u[rs, ks + 1]
                g2v, g2s = self.g2(As)
                f[rs] += (g2v - L) * b**2
                slope[rs, ks] += g2s * b**2
                slope[rs, ks + 1] = 2.0 * g2v * b
        grad = slope * np.where(x2 < 0, -1.0, 1.0)
        return (f[0], grad[0]) if single else (f, grad)

    def value(self, x: np.ndarray) -> np.ndarray:
        """``f`` at every row of ``x``."""
        return self.value_and_grad(x)[0]
