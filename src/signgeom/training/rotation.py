"""Training in rotated coordinates (beyond the paper, Figure 5): block rotations of the
parameters and a wrapper that runs any optimizer in the rotated coordinates.

Each parameter tensor ``w`` (``n`` entries) is flattened, padded with zeros to ``n_b k`` entries
and cut into ``n_b`` consecutive blocks of ``k = block_size``. One Haar-random ``Q`` in SO(k)
per tensor, drawn from ``(seed, sha256(tensor name))`` and shared by its blocks, gives the
rotation ``R = blockdiag(Q^theta, ..., Q^theta) P^T`` (``P^T`` pads, ``P`` truncates), with the
principal fractional power ``Q^theta`` of Figure 2 (``signgeom.quadratic.hessians``):
``Q^0 = I``, ``Q^1 = Q``, orthogonal for every ``theta``. ``R`` is an isometry, ``R^T R = I``.

The optimizer runs on ``v`` in ``R^(n_b k)`` with the loss ``f(P Q^T v)``: it sees the
gradient ``R g``, keeps its state (momentum, second moments) in ``v``'s coordinates, and after
its step the network's parameters are set to ``w = R^T v``. So an update ``u`` of ``v`` moves
``w`` by ``R^T u``: SGD (momentum) moves ``w`` exactly as without rotation (up to rounding),
signSGD moves it by ``R^T sign(R m)``. ``theta = 0`` returns the plain optimizer (bit for bit).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

from signgeom.quadratic.hessians import fractional_rotation, haar_rotation
from signgeom.training.optimizers import SHAPE_DEPENDENT, build_optimizer, closure_loss


def name_seed(seed: int, name: str) -> int:
    """A seed for the rotation of tensor ``name``: ``(seed, sha256(name))`` through NumPy's
    ``SeedSequence`` (stable across processes and Python versions, unlike ``hash``)."""
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return int(np.random.SeedSequence([seed, digest]).generate_state(1, dtype=np.uint64)[0] >> 1)


def rotation_power(block_size: int, theta: float, seed: int, name: str) -> np.ndarray:
    """``Q^theta`` (float64, k x k) of tensor ``name``: ``Q`` Haar on SO(k) from
    :func:`name_seed`, its principal power as Figure 2's ``R^theta``."""
    if not 0.0 <= theta <= 1.0:
        raise ValueError(f"rotation theta must lie in [0, 1], got {theta}")
    if block_size < 1:
        raise ValueError(f"rotation block_size must be >= 1, got {block_size}")
    if block_size == 1:  # SO(1) = {1}
        return np.ones((1, 1))
    return fractional_rotation(haar_rotation(block_size, name_seed(seed, name)), theta)


class BlockRotation:
    """``R``: the per-tensor block rotations of a list of named tensors (see the module
    docstring), applied to tensors or to their flat concatenation (in the given order)."""

    def __init__(
        self,
        named_sizes: Sequence[tuple[str, int]],
        theta: float,
        block_size: int,
        seed: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        self.theta, self.block_size, self.seed = float(theta), int(block_size), int(seed)
        self.names = [name for name, _ in named_sizes]
        self.sizes = [int(n) for _, n in named_sizes]
        self.blocks = [math.ceil(n / block_size) for n in self.sizes]
        self.matrices = [
            torch.as_tensor(rotation_power(block_size, theta, seed, name), dtype=dtype).to(device)
            for name in self.names
        ]

    @property
    def rotated_dim(self) -> int:
        """``sum n_b k``: the dimension of the rotated coordinates (padding included)."""
        return sum(self.blocks) * self.block_size

    def rotate(self, i: int, w: torch.Tensor) -> torch.Tensor:
        """Blocks of tensor ``i``, ``(n_b, k)``, each row ``Q^theta w_b`` (``w`` zero-padded)."""
        flat = w.reshape(-1)
        pad = self.blocks[i] * self.block_size - flat.numel()
        padded = torch.nn.functional.pad(flat, (0, pad)).view(self.blocks[i], self.block_size)
        return padded @ self.matrices[i].T

    def unrotate(self, i: int, v: torch.Tensor) -> torch.Tensor:
        """``P (Q^theta)^T v``: the flat tensor ``i`` of the rotated blocks ``v`` (n_b, k)."""
        return (v @ self.matrices[i]).reshape(-1)[: self.sizes[i]]

    def to_rotated(self, flat: torch.Tensor) -> torch.Tensor:
        """``R x`` for a flat concatenation ``x`` of the tensors (length ``sum n``)."""
        parts = torch.split(flat, self.sizes)
        return torch.cat([self.rotate(i, p).reshape(-1) for i, p in enumerate(parts)])

    def from_rotated(self, flat: torch.Tensor) -> torch.Tensor:
        """``R^T y`` for a flat ``y`` of length :attr:`rotated_dim`."""
        parts = torch.split(flat, [b * self.block_size for b in self.blocks])
        return torch.cat(
            [self.unrotate(i, p.view(-1, self.block_size)) for i, p in enumerate(parts)]
        )


class RotatedOptimizer(torch.optim.Optimizer):
    """Any optimizer run in the coordinates ``v = R w`` (module docstring).

    Holds a shadow copy ``v`` of the parameters (one ``(n_b, k)`` tensor per parameter)
    that the inner optimizer updates with the gradients ``R g``; after each step
    ``w = R^T v``. Cost: two batched ``(n_b, k) x (k, k)`` products per tensor and step.
    ``state_dict`` holds the inner optimizer's state and ``v`` (resumes bit for bit).
    """

    def __init__(
        self,
        named_params: Iterable[tuple[str, torch.Tensor]],
        build_inner: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
        theta: float,
        block_size: int,
        seed: int,
    ) -> None:
        named = [(n, p) for n, p in named_params if p.requires_grad]
        self.params = [p for _, p in named]
        first = self.params[0]
        self.rotation = BlockRotation(
            [(n, p.numel()) for n, p in named], theta, block_size, seed, first.dtype, first.device
        )
        with torch.no_grad():
            self.shadow = [self.rotation.rotate(i, p) for i, p in enumerate(self.params)]
        self.inner = build_inner(self.shadow)
        # Optimizer bookkeeping (zero_grad, hooks) over the network's parameters.
        super().__init__(self.params, dict(self.inner.defaults))

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Rotate the gradients, step the inner optimizer on ``v``, set ``w = R^T v``."""
        loss = closure_loss(closure)
        for i, (p, v) in enumerate(zip(self.params, self.shadow, strict=True)):
            v.grad = None if p.grad is None else self.rotation.rotate(i, p.grad)
        self.inner.step()
        for i, (p, v) in enumerate(zip(self.params, self.shadow, strict=True)):
            if v.grad is not None:
                p.copy_(self.rotation.unrotate(i, v).view_as(p))
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "shadow": [v.detach() for v in self.shadow]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        with torch.no_grad():
            for v, saved in zip(self.shadow, state_dict["shadow"], strict=True):
                v.copy_(saved)
        self.inner.load_state_dict(state_dict["inner"])


def build_rotated_optimizer(
    name: str,
    named_params: Iterable[tuple[str, torch.Tensor]],
    lr: float,
    momentum: float,
    theta: float,
    block_size: int | None,
    seed: int,
) -> torch.optim.Optimizer:
    """The registered optimizer ``name`` in rotated coordinates; ``theta = 0``: the plain one.
    A shape-dependent optimizer (``signgeom.training.optimizers.SHAPE_DEPENDENT``) is refused for
    ``theta > 0``: on the ``(n_b, k)`` blocks it would be another optimizer."""
    if theta == 0:
        return build_optimizer(name, [p for _, p in named_params], lr=lr, momentum=momentum)
    if name in SHAPE_DEPENDENT:
        raise ValueError(
            f"optimizer {name!r} depends on tensor shapes and cannot run in rotated coordinates"
        )
    if block_size is None:
        raise ValueError("a rotation (theta > 0) needs a block_size")
    return RotatedOptimizer(
        named_params,
        lambda shadow: build_optimizer(name, shadow, lr=lr, momentum=momentum),
        theta,
        block_size,
        seed,
    )
