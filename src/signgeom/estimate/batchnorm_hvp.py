"""Batch norm with its affine map outside ``F.batch_norm``, for correct second derivatives.

torch.func's second derivatives through ``F.batch_norm`` with batch statistics and an affine
weight are silently wrong in torch 2.14 (pytorch/pytorch#196699); curvlinops builds its HVPs
with torch.func. :func:`split_affine_batchnorm` computes ``F.batch_norm(x, affine=None) * w + b``
instead while it is active: the same function, with the right derivatives.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


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

    for m in bns:
        m.forward = split_forward(m)
    try:
        yield model
    finally:
        for m in bns:
            del m.forward

