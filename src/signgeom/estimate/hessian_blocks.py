"""Exact principal blocks ``H_II = E_I^T H E_I`` of a Hessian and the paper's quantities on them.

A block comes from ``k`` Hessian-vector products (columns ``H e_i``, ``i in I``). Coordinate sets
``I`` are random (scattered over all d), contiguous (inside one parameter tensor) or the last
parameter tensor (the final layer's bias). Per block: ``rho_diag``, ``lambda_max``,
``lambda_bar``, ``lambda_min``, exact ``||H_II||_{inf,1}`` (``k <= max_exact_dim``), the Prop. 3
bound ``tr / rho_diag`` (PSD blocks only), and on the block seen as a quadratic the improvement
ratio ``R_I = phi(g_I) k ||H_II||_2 / ||H_II||_{inf,1}`` next to its Eq. 13 bound
``rho_diag (lambda_max / lambda_bar) phi(g_I)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator

from signgeom.estimate.smoothness import gradient_density
from signgeom.norms import DEFAULT_MAX_EXACT_DIM, inf_to_one_norm, psd_tolerance, rho_diag

BLOCK_KINDS = ("random", "contiguous", "last_layer")
MAX_LAYER_BLOCK = 64
"""Largest last-layer block (one HVP per coordinate); the CIFAR models' final bias has 10."""


def block_hessian(op: LinearOperator, index: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact principal block ``H[I, I]`` from ``k`` HVPs (columns ``H e_i``), symmetrised.

    ``op`` may be the Hessian of a parameter subset (then ``index`` counts within it). Returns
    the block and its relative asymmetry ``||B - B^T||_F / ||B||_F`` before symmetrisation.
    """
    d = op.shape[0]
    B = np.empty((len(index), len(index)))
    for j, i in enumerate(index):
        e = np.zeros(d)
        e[i] = 1.0
        B[:, j] = (op @ e)[index]
    norm = np.linalg.norm(B)
    asym = float(np.linalg.norm(B - B.T) / norm) if norm > 0 else 0.0
    return 0.5 * (B + B.T), asym


def block_quantities(
    B: np.ndarray, g: np.ndarray, max_exact_dim: int = DEFAULT_MAX_EXACT_DIM
) -> dict:
    """The paper's quantities of one symmetric block ``B`` with gradient part ``g``.

    ``linf1``, ``prop3_bound``, ``R`` and ``eq13_bound`` need ``k <= max_exact_dim`` (else NaN);
    ``prop3_bound`` and ``eq13_bound`` assume PSD (up to float32 round-off,
    ``signgeom.norms.psd_tolerance``) and are NaN for an indefinite block; an
    all-zero block (e.g. coordinates of units dead on every example) has NaN ``rho_diag``.
    """
    k = B.shape[0]
    lam = np.linalg.eigvalsh(B)
    lam_max, lam_min = float(lam[-1]), float(lam[0])
    lam_bar = float(np.trace(B)) / k
    rho = float(rho_diag(B)) if np.abs(B).sum() > 0 else math.nan  # 0/0 on a zero block
    psd = lam_min >= -psd_tolerance(np.float32) * max(abs(lam_max), abs(lam_min))  # from HVPs
    ratio = lam_max / lam_bar if lam_bar > 0 else math.nan
    phi = gradient_density(torch.as_tensor(g))
    linf1 = float(inf_to_one_norm(B, max_exact_dim)) if k <= max_exact_dim else math.nan
    l2 = max(lam_max, -lam_min)  # ||B||_2, the L_2 smoothness of the quadratic (any sign)
    R = phi * k * l2 / linf1 if linf1 > 0 else math.nan
    return {
        "k": k,
        "rho_diag": rho,
        "lambda_max": lam_max,
        "lambda_min": lam_min,
        "lambda_bar": lam_bar,
        "ratio": ratio,
        "psd": bool(psd),
        "linf1": linf1,
        "prop3_bound": float(np.trace(B)) / rho if psd else math.nan,
        "phi": phi,
        "R": R,
        "eq13_bound": rho * ratio * phi if psd else math.nan,
    }


def block_indices(
    sizes: Sequence[int], kind: str, block_size: int, n_blocks: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Coordinate sets of one kind; ``sizes`` are the parameter tensors' numels in order.

    ``random``: ``block_size`` distinct coordinates uniformly over all d; ``contiguous``:
    ``block_size`` consecutive coordinates of one parameter tensor (drawn with probability
    proportional to its size, among those large enough) at a uniform offset; ``last_layer``:
    all coordinates of the last parameter tensor (one block, refused above ``MAX_LAYER_BLOCK``).
    """
    d = int(sum(sizes))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    if kind == "random":
        return [np.sort(rng.choice(d, size=block_size, replace=False)) for _ in range(n_blocks)]
    if kind == "contiguous":
        big = [i for i, s in enumerate(sizes) if s >= block_size]
        weights = np.array([sizes[i] for i in big], dtype=float)
        out = []
        for _ in range(n_blocks):
            i = big[rng.choice(len(big), p=weights / weights.sum())]
            off = int(rng.integers(0, sizes[i] - block_size + 1))
            out.append(starts[i] + off + np.arange(block_size))
        return out
    if kind == "last_layer":
        if sizes[-1] > MAX_LAYER_BLOCK:
            raise ValueError(
                f"the last parameter tensor has {sizes[-1]} entries; its block Hessian costs "
                f"one HVP per entry and is refused above {MAX_LAYER_BLOCK}"
            )
        return [starts[-1] + np.arange(sizes[-1])]
    raise ValueError(f"block kind must be one of {BLOCK_KINDS}, got {kind!r}")
