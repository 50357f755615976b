"""Two-dimensional quadratics of Figures 1 and 4 (paper Sec. 3 and App. B.2), in closed form.

``H = R(angle) diag(lambda_max, lambda_min) R(angle)^T = [[a, b], [b, d]]`` with ``R`` the
rotation by ``angle``: the eigenvector of ``lambda_max`` makes that angle with the first axis.
For PSD ``H``:

* ``L_2 = lambda_max``;
* ``L_inf = ||H||_{inf,1} = max_{s in {-1,1}^2} s^T H s = a + d + 2|b|``;
* the separable bound (Eq. 34) ``l_1 = a + |b|``, ``l_2 = d + |b|`` is the minimiser of
  ``l_1 + l_2`` s.t. ``diag(l) >= H``: ``diag(l) - H = |b| [[1, -sgn b], [-sgn b, 1]]`` is PSD
  and singular, and ``(l_1 - a)(l_2 - d) >= b^2`` gives ``l_1 + l_2 >= a + d + 2|b|`` (AM-GM).
  Hence in 2-D ``L_sep = l_1 + l_2 = L_inf``.

The contour ``x^T M x = c`` of a PD matrix ``M = Q diag(mu) Q^T`` is the ellipse
``x(t) = sqrt(c) Q diag(mu)^(-1/2) (cos t, sin t)``: semi-axes ``sqrt(c / mu_i)`` along the
eigenvectors. ``diag(l) >= H >= 0`` puts the separable ellipse inside the ``H`` ellipse, touching
it along the null direction of ``diag(l) - H``; the circle of ``lambda_max I`` touches it at the
ends of its short axis.
"""

from __future__ import annotations

import numpy as np


def rotation_2d(angle: float) -> np.ndarray:
    """Counter-clockwise rotation by ``angle`` (radians)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def hessian_2d(lambda_max: float, lambda_min: float, angle: float) -> np.ndarray:
    """``R diag(lambda_max, lambda_min) R^T``: eigenvector of ``lambda_max`` at ``angle``."""
    r = rotation_2d(angle)
    h = (r * np.array([lambda_max, lambda_min])) @ r.T
    return 0.5 * (h + h.T)


def _entries(h: np.ndarray) -> tuple[float, float, float]:
    h = np.asarray(h, dtype=np.float64)
    if h.shape != (2, 2) or h[0, 1] != h[1, 0]:
        raise ValueError(f"expected a symmetric 2x2 matrix, got {h.tolist()}")
    return float(h[0, 0]), float(h[0, 1]), float(h[1, 1])


def linf_2d(h: np.ndarray) -> float:
    """``||H||_{inf,1} = a + d + 2|b|`` for a symmetric PSD ``H = [[a, b], [b, d]]``."""
    a, b, d = _entries(h)
    return a + d + 2.0 * abs(b)


def separable_bound_2d(h: np.ndarray) -> np.ndarray:
    """Eq. 34: ``l = (a + |b|, d + |b|)``, the cheapest ``diag(l) >= H``."""
    a, b, d = _entries(h)
    return np.array([a + abs(b), d + abs(b)])


def ellipse(m: np.ndarray, level: float = 1.0, points: int = 361) -> np.ndarray:
    """Points ``(points, 2)`` of the contour ``x^T M x = level`` of a symmetric PD ``M``."""
    mu, q = np.linalg.eigh(np.asarray(m, dtype=np.float64))
    if mu[0] <= 0:
        raise ValueError(f"the contour of a matrix with eigenvalue {mu[0]:g} <= 0 is unbounded")
    t = np.linspace(0.0, 2.0 * np.pi, points)
    circle = np.stack([np.cos(t), np.sin(t)])
    return (np.sqrt(level) * q @ (circle / np.sqrt(mu)[:, None])).T
