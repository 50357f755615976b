"""The fixed objective every estimate along a trajectory differentiates.

With chunks ``(x_k, y_k)`` of ``n_k`` images (a fixed partition of the first ``n_examples``
training images, :func:`make_chunks`) and ``n = sum_k n_k``:

    f(x) = sum_k (n_k / n) loss(model_x(x_k), y_k),

the model in a fixed module mode (:func:`fixed_mode`: dropout off; batch norm with each chunk's
batch statistics, its running statistics never updated, or with its running statistics), in
``precision`` (strict fp32 or fp64) and layout (``channels_last`` or not). This module gives
``f`` (:func:`mean_loss`), ``grad f`` (:func:`full_gradient`) and ``H = hess f`` as an operator
(:func:`hessian_operator`), and loads the chunks and the model (:func:`load_objective`).

Only batch norm with batch statistics couples the images of a chunk (:func:`couples_examples`).
Otherwise ``f`` is the mean loss over the ``n`` images whatever the partition, so the gradient
passes may run on smaller pieces (``micro_batch``, :func:`pass_size`): the same objective summed
in another order, equal to rounding, and faster where small batches are (the CPU, measured).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from curvlinops import HessianLinearOperator

    from signgeom.tasks.base import Task

from signgeom.estimate.estimate_settings import BN_MODES, EstimateSettings

log = logging.getLogger(__name__)
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Chunks = Sequence[tuple[torch.Tensor, torch.Tensor]]
DTYPES = {"fp32": torch.float32, "fp64": torch.float64}
"""The estimators' ``precision`` (``ESTIMATOR_PRECISIONS``) as a dtype."""
MICRO_BATCH_BY_DEVICE: dict[str, int | None] = {"cpu": 128, "cuda": None}
"""``micro_batch: auto`` per device type: images per pass where examples are independent. CPU:
128, measured faster than whole chunks (bench/bench_cifar.py --cpu-estimate); cuda: unmeasured,
the whole chunk (one chunk of 5,000 was the fastest measured there)."""


def make_chunks(
    x: torch.Tensor, y: torch.Tensor, n_examples: int | None, chunk_size: int
) -> Chunks:
    """Fixed partition of the first ``n_examples`` examples (None: all) into chunks."""
    if n_examples is not None and n_examples > x.shape[0]:
        raise ValueError(
            f"n_examples = {n_examples} is more than the {x.shape[0]} training images "
            "(config key 'cifar.smoothness.n_examples'; null uses all of them)"
        )
    x, y = x[:n_examples], y[:n_examples]
    return [
        (x[i : i + chunk_size], y[i : i + chunk_size]) for i in range(0, x.shape[0], chunk_size)
    ]


def load_objective(
    settings: EstimateSettings, data_dir: str | Path, dev: torch.device, task: Task | None = None
) -> tuple[Chunks, nn.Module]:
    """The chunks of the estimation set (the first ``n_examples`` training examples of
    ``task``'s data at ``data_dir``) and a fresh ``settings.network``, both in the settings'
    precision (floating inputs; token ids stay integers) and layout on ``dev`` (the snapshots
    are loaded into the model later); chunks of :func:`pass_size` examples. ``task`` None: the
    registered task of ``settings.network`` (``signgeom.tasks.registry.task_for_model``)."""
    from signgeom.tasks.registry import task_for_model

    s = settings
    task = task_for_model(s.network) if task is None else task
    data = task.load(data_dir, s.network, dev, s.n_examples, 0)
    dtype = DTYPES[s.precision]
    fmt = torch.channels_last if s.channels_last else torch.contiguous_format
    inputs = data.train_x
    if inputs.is_floating_point():
        inputs = inputs.to(dtype)
    if s.channels_last and inputs.ndim != 4:
        raise ValueError(f"channels_last needs image inputs; task {task.name!r} has none")
    inputs = inputs.contiguous(memory_format=fmt)
    model = task.build_model(s.network, data).to(device=dev, dtype=dtype, memory_format=fmt)
    size = pass_size(s.micro_batch, s.chunk_size, model, s.bn_mode, dev)
    if size != s.chunk_size:
        log.info("independent examples: gradient passes of %d examples (micro_batch)", size)
    return make_chunks(inputs, data.train_y, s.n_examples, size), model


def compiled(model: nn.Module) -> nn.Module:
    """``model``'s forward through ``torch.compile`` (inductor): the same parameters (the
    snapshots load into ``model``, the probes move them in place), the same objective summed by
    other kernels. First-order gradients only: no Hessian-vector products through it."""
    return torch.compile(model)


def couples_examples(model: nn.Module, bn_mode: str) -> bool:
    """Whether a chunk's images interact in the objective: batch norm with batch statistics."""
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    return has_bn and bn_mode == "batch_stats"


def pass_size(
    micro_batch: str, chunk_size: int, model: nn.Module, bn_mode: str, device: torch.device
) -> int:
    """Images per gradient pass: ``chunk_size`` where the chunk is part of the objective
    (:func:`couples_examples`), else ``micro_batch`` (``auto``: ``MICRO_BATCH_BY_DEVICE``;
    ``none``: the chunk) when smaller than the chunk."""
    if couples_examples(model, bn_mode):
        return chunk_size
    if micro_batch == "auto":
        micro = MICRO_BATCH_BY_DEVICE.get(device.type)
    else:
        micro = None if micro_batch == "none" else int(micro_batch)
    return min(chunk_size, micro) if micro else chunk_size


def count_examples(chunks: Chunks) -> int:
    """Number of examples in all chunks together."""
    return sum(int(y.shape[0]) for _, y in chunks)


def trainable(model: nn.Module) -> list[torch.Tensor]:
    """The parameters ``x`` of the objective (those that require a gradient), in order."""
    return [p for p in model.parameters() if p.requires_grad]


def flat_parameters(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """A detached copy of ``params`` as one flat vector."""
    return torch.cat([p.detach().reshape(-1) for p in params]).clone()


@torch.no_grad()
def assign_flat(params: Sequence[torch.Tensor], flat: torch.Tensor) -> None:
    """Set ``params`` in place from one flat vector (the inverse of :func:`flat_parameters`)."""
    offset = 0
    for p in params:
        p.copy_(flat[offset : offset + p.numel()].view_as(p))
        offset += p.numel()


@contextmanager
def fixed_mode(model: nn.Module, bn_mode: str = "batch_stats") -> Iterator[nn.Module]:
    """Dropout off; batch norm fixed per ``bn_mode``; restores modes/flags on exit."""
    if bn_mode not in BN_MODES:
        raise ValueError(f"bn_mode must be one of {BN_MODES}, got {bn_mode!r}")
    training = {m: m.training for m in model.modules()}
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    tracking = {m: m.track_running_stats for m in bns}
    model.eval()
    if bn_mode == "batch_stats":
        for m in bns:  # train + no tracking = normalise with batch stats, never update buffers
            m.train()
            m.track_running_stats = False
    try:
        yield model
    finally:
        for m, flag in training.items():
            m.training = flag
        for m, flag in tracking.items():
            m.track_running_stats = flag


@contextmanager
def second_order_kernels() -> Iterator[None]:
    """Attention (``scaled_dot_product_attention``) through its math kernel meanwhile: the
    same function, in plain differentiable operations, since the fused CPU kernels have no
    forward-mode derivative and curvlinops' HVPs take one (forward over reverse)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel([SDPBackend.MATH]):
        yield


def full_gradient(
    model: nn.Module, loss_fn: LossFn, chunks: Chunks, params: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Flat gradient of the mean loss over all chunks: sum_k (n_k / n) grad loss_k."""
    n = count_examples(chunks)
    g = torch.zeros(sum(p.numel() for p in params), dtype=params[0].dtype, device=params[0].device)
    for x, y in chunks:
        loss = loss_fn(model(x), y) * (y.shape[0] / n)
        grads = torch.autograd.grad(loss, params)
        g += torch.cat([gr.reshape(-1) for gr in grads])
    return g


@torch.no_grad()
def mean_loss(model: nn.Module, loss_fn: LossFn, chunks: Chunks) -> float:
    """f = sum_k (n_k / n) loss_k, summed in Python floats."""
    n = count_examples(chunks)
    return sum(float(loss_fn(model(x), y)) * y.shape[0] / n for x, y in chunks)


def hessian_operator(
    model: nn.Module, loss_fn: nn.Module, chunks: Chunks, params: Sequence[torch.Tensor]
) -> HessianLinearOperator:
    """Hessian of ``sum_k (n_k / n) loss_k`` (the :func:`full_gradient` weighting) as
    curvlinops' operator, in the parameters' dtype and on their device.

    Call it, and multiply with it, inside :func:`fixed_mode`: the operator runs the model in its
    current mode. ``loss_fn`` must be a torch loss module with ``reduction="mean"``.
    """
    from curvlinops import HessianLinearOperator

    if getattr(loss_fn, "reduction", None) != "mean":
        raise ValueError("loss_fn must be a torch loss module with reduction='mean'")
    return HessianLinearOperator(
        model, loss_fn, list(params), list(chunks), check_deterministic=False,
        num_data=count_examples(chunks),
    )  # fmt: skip
