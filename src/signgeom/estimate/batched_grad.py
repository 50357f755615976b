"""Full-batch gradients at several parameter vectors in one vmapped pass per chunk.

For P flat parameter vectors ``x_1..x_P`` and fixed chunks ``(X_k, y_k)`` of ``n`` examples,

    G[p] = sum_k (n_k / n) grad_x loss(model(X_k; x_p), y_k)

with ``torch.func.functional_call`` + ``grad``, ``vmap``-ed over the stacked ``x_p``: the same
quantity as ``signgeom.estimate.fixed_objective.full_gradient`` at each ``x_p``, equal to fp32
rounding (other kernels: a vmapped convolution is one grouped convolution). The model's modes
are used as they are: under ``fixed_objective.fixed_mode`` dropout is off and batch norm either
normalises with each chunk's batch statistics without touching its running statistics
(``batch_stats``: train mode with ``track_running_stats`` off, so no buffer is written under
``vmap``) or with its frozen running statistics (``running_stats``); buffers are shared by all
P points.

Memory: one chunk's activations for all P points at once (P times the sequential path's).
Which path is the default is measured per device (``BATCHED_BY_DEVICE``, README).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Chunks = Sequence[tuple[torch.Tensor, torch.Tensor]]
BATCHED_CHOICES = ("auto", "true", "false")
# auto: the faster path on each device type, as measured (bench/bench_smoothness_batched.py);
# cuda is unmeasured and kept on today's sequential path.
BATCHED_BY_DEVICE = {"cpu": False, "cuda": False}


def use_batched(choice: str, device: torch.device) -> bool:
    """``cifar.smoothness.batched``: ``true`` / ``false``, or ``auto`` = the device's default."""
    if choice not in BATCHED_CHOICES:
        raise ValueError(f"batched must be one of {BATCHED_CHOICES}, got {choice!r}")
    if choice == "auto":
        return BATCHED_BY_DEVICE.get(device.type, False)
    return choice == "true"


def stacked_gradients(
    model: nn.Module, loss_fn: LossFn, chunks: Chunks, points: torch.Tensor
) -> torch.Tensor:
    """``G[p]``, the flat mean-loss gradient at each row ``points[p]`` (trainable parameters in
    ``model.parameters()`` order); the model's own parameters are not read or changed."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    frozen = {name: p.detach() for name, p in model.named_parameters() if not p.requires_grad}
    buffers = dict(model.named_buffers())
    sizes = [p.numel() for _, p in named]
    if points.ndim != 2 or points.shape[1] != sum(sizes):
        raise ValueError(f"points must be P x {sum(sizes)}, got {tuple(points.shape)}")

    def chunk_loss(flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, weight: float):
        pieces = torch.split(flat, sizes)
        params = {name: t.view_as(p) for (name, p), t in zip(named, pieces, strict=True)}
        out = functional_call(model, ({**params, **frozen}, buffers), (x,))
        return loss_fn(out, y) * weight

    per_point = vmap(grad(chunk_loss), in_dims=(0, None, None, None))
    n = sum(int(y.shape[0]) for _, y in chunks)
    total = torch.zeros_like(points)
    for x, y in chunks:
        total += per_point(points, x, y, y.shape[0] / n)
    return total
