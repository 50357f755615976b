"""The Hessian seen in a run's rotated training coordinates (``signgeom.training.rotation``).

With ``R = blockdiag(Q^theta, ...) P^T`` (per tensor; ``P^T`` zero-pads tensor ``i``'s ``n_i``
entries to ``n_b k``) the optimizer runs on ``v = R w`` and sees the Hessian ``R H R^T``
(dimension ``d' = sum n_b k``). Its exact blocks are measured on the coordinates ``S v``, where
``S`` keeps the first ``n_i`` rotated coordinates of each tensor: the operator

    ``H_rot = S R H R^T S^T``   (d x d, the same tensor sizes and offsets as ``H``),

so the block code (``signgeom.estimate.hessian_blocks``) draws the same index sets as for ``H`` and
a contiguous block is ``k`` consecutive rotated coordinates of one tensor. ``S`` leaves out the
last ``n_b k - n_i < k`` rotated coordinates of each tensor: at ``theta = 0`` exactly the padding
(zero Hessian rows), at ``theta > 0`` mixtures of the last block's real and padded directions.
At ``theta = 0``, ``S R = I`` and ``H_rot = H`` exactly. The gradient's rotated counterpart is
``S R g``. Spectral quantities (eigenvalues, trace) are those of ``H``: ``R`` is an isometry.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator

from signgeom.training.rotation import BlockRotation


def float64_rotation(rotation: BlockRotation, tensors: list[int] | None = None) -> BlockRotation:
    """The same rotation (tensors ``tensors``, default all) in float64 on the CPU."""
    m = rotation.matrices[0]
    if tensors is None and m.dtype == torch.float64 and m.device.type == "cpu":
        return rotation
    idx = range(len(rotation.names)) if tensors is None else tensors
    named = [(rotation.names[i], rotation.sizes[i]) for i in idx]
    return BlockRotation(named, rotation.theta, rotation.block_size, rotation.seed, torch.float64)


def kept_coordinates(rotation: BlockRotation) -> np.ndarray:
    """Positions in ``R``'s output (length ``d'``) of the kept rotated coordinates ``S``: the
    first ``n_i`` of each tensor's ``n_b k``."""
    k = rotation.block_size
    starts = np.cumsum([0] + [b * k for b in rotation.blocks])[:-1]
    return np.concatenate([s + np.arange(n) for s, n in zip(starts, rotation.sizes, strict=True)])


def to_kept_rotated(rotation: BlockRotation, x: np.ndarray) -> np.ndarray:
    """``S R x`` (float64) for a flat ``x`` in the original coordinates."""
    rot = float64_rotation(rotation)
    y = rot.to_rotated(torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(-1)))
    return y.numpy()[kept_coordinates(rot)]


def from_kept_rotated(rotation: BlockRotation, y: np.ndarray) -> np.ndarray:
    """``R^T S^T y`` (float64): kept rotated coordinates (zero elsewhere) in the original ones."""
    rot = float64_rotation(rotation)
    full = np.zeros(rot.rotated_dim)
    full[kept_coordinates(rot)] = np.asarray(y, dtype=np.float64).reshape(-1)
    return rot.from_rotated(torch.as_tensor(full)).numpy()


class RotatedOperator(LinearOperator):
    """``x -> S R A R^T S^T x`` for a SciPy operator ``A`` on the flat concatenation of
    ``rotation``'s tensors (module docstring)."""

    def __init__(self, op: LinearOperator, rotation: BlockRotation) -> None:
        d = sum(rotation.sizes)
        if op.shape != (d, d):
            raise ValueError(f"operator of shape {op.shape} for a rotation of {d} coordinates")
        super().__init__(dtype=np.float64, shape=(d, d))
        self.op = op
        self.rotation = float64_rotation(rotation)

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        y = self.op @ from_kept_rotated(self.rotation, x)
        return to_kept_rotated(self.rotation, y)

    def _adjoint(self) -> RotatedOperator:
        return self
