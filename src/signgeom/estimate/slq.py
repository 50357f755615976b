"""Spectral density by stochastic Lanczos quadrature (Papyan 2020).

Per random start, ``steps`` Lanczos steps give Ritz values (nodes) and the squared first
components of their eigenvectors (weights); ``density ~ mean_r sum_j w_rj delta(lambda -
node_rj)``. The draws come from a seeded generator inside ``torch.random.fork_rng``.
"""

from __future__ import annotations

import numpy as np
import torch
from curvlinops import HessianLinearOperator
from curvlinops.papyan2020traces.spectrum import fast_lanczos


def slq_nodes_weights(
    op: HessianLinearOperator, steps: int, repeats: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per repeat: Ritz values and squared first eigenvector components of ``steps`` Lanczos
    steps from a random start (curvlinops' ``fast_lanczos``, Papyan 2020, Alg. 2)."""
    out = []
    devices = [op.device.index or 0] if op.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for _ in range(repeats):
            evals, evecs = fast_lanczos(op, steps)
            out.append((evals.double().cpu().numpy(), (evecs[0] ** 2).double().cpu().numpy()))
    return out

