"""Batch and layer norm with their affine maps outside the fused kernels, for correct second
derivatives.

torch.func's second derivatives through ``F.batch_norm`` with batch statistics and an affine
weight are silently wrong in torch 2.14 (pytorch/pytorch#196699), and so are those of
``F.layer_norm`` in its affine weight (forward over reverse: the rows of the weight against
every earlier parameter; measured against reverse over reverse in
tests/test_hessian_param_blocks.py); curvlinops builds its HVPs with torch.func.
:func:`split_affine_batchnorm` computes ``F.batch_norm(x, affine=None) * w + b`` instead while
it is active, :func:`split_affine_layernorm` ``F.layer_norm(x, affine=None) * w + b``, and
:func:`split_affine_norms` both: the same functions, with the right derivatives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


@contextmanager
def forwards_replaced(
    modules: list[nn.Module], make_forward: Callable[[nn.Module], Callable]
) -> Iterator[None]:
    """Each of ``modules`` runs ``make_forward(module)`` instead of its ``forward`` meanwhile
    (an instance attribute, deleted on exit: the class's ``forward`` is back)."""
    for m in modules:
        m.forward = make_forward(m)
    try:
        yield
    finally:
        for m in modules:
            del m.forward


@contextmanager
def split_affine_batchnorm(model: nn.Module) -> Iterator[nn.Module]:
    """Affine batch-norm layers compute ``F.batch_norm(x, affine=None) * w + b`` meanwhile.

    Same function and same module modes (a layer that would update its running statistics is
    refused); it works around wrong torch.func second derivatives of the fused affine form.
    """
    bns = [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None
    ]

    def split_forward(m: nn.modules.batchnorm._BatchNorm):
        def forward(x: torch.Tensor) -> torch.Tensor:
            if m.training and m.track_running_stats:
                raise RuntimeError("batch norm would update its running statistics")
            use_running = not m.training
            y = F.batch_norm(
                x,
                m.running_mean if use_running else None,
                m.running_var if use_running else None,
                None,
                None,
                m.training or m.running_mean is None,
                0.0,
                m.eps,
            )
            shape = (1, -1) + (1,) * (x.ndim - 2)
            return y * m.weight.view(shape) + m.bias.view(shape)

        return forward

    with forwards_replaced(bns, split_forward):
        yield model


@contextmanager
def split_affine_layernorm(model: nn.Module) -> Iterator[nn.Module]:
    """Affine layer-norm layers compute ``F.layer_norm(x, affine=None) * w + b`` meanwhile."""
    lns = [m for m in model.modules() if isinstance(m, nn.LayerNorm) and m.weight is not None]

    def split_forward(m: nn.LayerNorm):
        def forward(x: torch.Tensor) -> torch.Tensor:
            y = F.layer_norm(x, m.normalized_shape, None, None, m.eps) * m.weight
            return y if m.bias is None else y + m.bias

        return forward

    with forwards_replaced(lns, split_forward):
        yield model


@contextmanager
def split_affine_norms(model: nn.Module) -> Iterator[nn.Module]:
    """:func:`split_affine_batchnorm` and :func:`split_affine_layernorm` together."""
    with split_affine_batchnorm(model), split_affine_layernorm(model):
        yield model
