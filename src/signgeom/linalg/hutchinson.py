"""Trace of a symmetric operator by Hutchinson's estimator deflated with known directions.

``tr H = tr(V^T H V) + E_z[z^T P H P z]``, ``P = I - V V^T`` for orthonormal ``V``, z
Rademacher (Hutch++-style): the first term exact, the second the mean over probes with standard
error ``std / sqrt(n)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.linalg import LinearOperator


@dataclass
class TraceEstimate:
    """``trace = exact + mean(samples)``; ``se`` the standard error of the mean."""

    trace: float
    se: float
    exact: float
    samples: np.ndarray = field(repr=False)


def deflated_hutchinson(
    op: LinearOperator, vectors: np.ndarray, n_probes: int, rng: np.random.Generator
) -> TraceEstimate:
    """``tr H = tr(V^T H V) + E_z[z^T P H P z]``, ``P = I - V V^T``, z Rademacher.

    ``V`` (d x m, orthonormal columns, m >= 0) is deflated exactly (m HVPs); the rest is
    Hutchinson with ``n_probes`` probes. With ``m = d`` the estimate is exact and ``se = 0``.
    """
    d = op.shape[0]
    V = np.asarray(vectors, dtype=np.float64).reshape(d, -1)
    exact = float(np.trace(V.T @ (op @ V))) if V.shape[1] else 0.0
    if n_probes < 2:
        raise ValueError(f"need at least 2 probes for a standard error, got {n_probes}")
    Z = rng.choice([-1.0, 1.0], size=(d, n_probes))
    PZ = Z - V @ (V.T @ Z)
    samples = np.einsum("ij,ij->j", PZ, op @ PZ)
    if V.shape[1] == d:  # nothing left to estimate (P = 0 up to round-off)
        samples = np.zeros(n_probes)
    se = float(samples.std(ddof=1) / math.sqrt(n_probes))
    return TraceEstimate(exact + float(samples.mean()), se, exact, samples)

