"""Optimizers of Figure 3: heavy-ball SGD and signSGD with momentum, plus Adam.

Both momentum methods keep ``m_t = mu * m_{t-1} + g_t`` with ``m_1 = g_1`` (the buffer is
initialised to the first gradient, as in ``torch.optim.SGD``) and no weight decay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

Params = Iterable[torch.Tensor] | Iterable[dict]


class _HeavyBall(torch.optim.Optimizer):
    """``m <- mu * m + g`` (``m_1 = g_1``); ``x <- x - lr * direction(m)``."""

    def __init__(self, params: Params, lr: float, momentum: float = 0.9) -> None:
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @staticmethod
    def _directions(ms: list[torch.Tensor]) -> list[torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One step for every parameter with a gradient, as multi-tensor (``_foreach``) ops:
        a few kernels per step on CUDA instead of a few per parameter tensor; the same
        element-wise arithmetic (on the CPU they loop over the tensors)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            fresh = [p for p in params if "momentum_buffer" not in self.state[p]]
            for p in fresh:
                self.state[p]["momentum_buffer"] = p.grad.detach().clone()
            fresh_ids = {id(p) for p in fresh}
            old = [p for p in params if id(p) not in fresh_ids]
            if old:
                bufs = [self.state[p]["momentum_buffer"] for p in old]
                torch._foreach_mul_(bufs, group["momentum"])
                torch._foreach_add_(bufs, [p.grad for p in old])
            if params:
                ms = [self.state[p]["momentum_buffer"] for p in params]
                torch._foreach_add_(params, self._directions(ms), alpha=-group["lr"])
        return loss


class SGDMomentum(_HeavyBall):
    """Heavy-ball SGD: ``m <- mu * m + g`` (``m_1 = g_1``), ``x <- x - lr * m``."""

    @staticmethod
    def _directions(ms: list[torch.Tensor]) -> list[torch.Tensor]:
        return ms


class SignSGDMomentum(_HeavyBall):
    """signSGD with momentum: ``m <- mu * m + g`` (``m_1 = g_1``), ``x <- x - lr * sign(m)``.

    The sign is of the whole momentum buffer, not of the gradient; ``sign(0) = 0``.
    """

    @staticmethod
    def _directions(ms: list[torch.Tensor]) -> list[torch.Tensor]:
        return torch._foreach_sign(ms)


def adam(params: Params, lr: float, momentum: float = 0.9) -> torch.optim.Adam:
    """``torch.optim.Adam`` with ``betas = (momentum, 0.999)``."""
    return torch.optim.Adam(params, lr=lr, betas=(momentum, 0.999))


OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": SGDMomentum,
    "signsgd": SignSGDMomentum,
    "adam": adam,
}


def build_optimizer(
    name: str, params: Params, lr: float, momentum: float = 0.9
) -> torch.optim.Optimizer:
    """Instantiate the registered optimizer ``name``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known optimizers: {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](params, lr=lr, momentum=momentum)
