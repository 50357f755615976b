"""Extreme eigenvalues of a symmetric operator by implicitly restarted Lanczos (ARPACK).

``eigsh(which="LA")`` gives the ``top_k`` largest eigenpairs, ``eigsh(which="SA")`` the most
negative eigenvalue; each from a start vector drawn from the caller's generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh


@dataclass
class Spectrum:
    """Top eigenpairs (descending), the most negative eigenvalue and convergence flags."""

    top: np.ndarray
    vectors: np.ndarray
    lambda_min: float
    converged: bool


def lanczos_extremes(
    op: LinearOperator,
    top_k: int,
    rng: np.random.Generator,
    tol: float = 1e-3,
    ncv: int = 20,
    smallest: bool = True,
) -> Spectrum:
    """``eigsh`` for the ``top_k`` largest (``which="LA"``) and, with ``smallest``, the
    smallest eigenvalue (else ``lambda_min`` is NaN).

    ``tol`` is ARPACK's relative accuracy and ``ncv`` its number of Lanczos vectors (more:
    fewer restarts, more memory); on no convergence the converged part is kept (the top set
    then may have fewer entries) and ``converged`` is False.
    """
    d = op.shape[0]
    if not 1 <= top_k < d:
        raise ValueError(f"need 1 <= top_k < d = {d}, got {top_k}")
    converged = True
    ncv = min(d, max(top_k + 2, ncv))
    try:
        vals, vecs = eigsh(op, k=top_k, which="LA", tol=tol, ncv=ncv, v0=rng.standard_normal(d))
    except ArpackNoConvergence as err:
        vals, vecs, converged = err.eigenvalues, err.eigenvectors, False
    order = np.argsort(vals)[::-1]
    if not smallest:
        return Spectrum(vals[order], vecs[:, order], math.nan, converged)
    try:
        lo = eigsh(op, k=1, which="SA", tol=tol, ncv=ncv, v0=rng.standard_normal(d))[0]
        lam_min = float(lo[0])
    except ArpackNoConvergence as err:
        lam_min = float(err.eigenvalues.min()) if len(err.eigenvalues) else math.nan
        converged = False
    return Spectrum(vals[order], vecs[:, order], lam_min, converged)
