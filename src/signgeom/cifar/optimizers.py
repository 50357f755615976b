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
    def _direction(m: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = p.grad.detach().clone()
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(p.grad)
                p.add_(self._direction(state["momentum_buffer"]), alpha=-group["lr"])
        return loss


class SGDMomentum(_HeavyBall):
    """Heavy-ball SGD: ``m <- mu * m + g`` (``m_1 = g_1``), ``x <- x - lr * m``."""

    @staticmethod
    def _direction(m: torch.Tensor) -> torch.Tensor:
        return m


class SignSGDMomentum(_HeavyBall):
    """signSGD with momentum: ``m <- mu * m + g`` (``m_1 = g_1``), ``x <- x - lr * sign(m)``.

    The sign is of the whole momentum buffer, not of the gradient; ``sign(0) = 0``.
    """

    @staticmethod
    def _direction(m: torch.Tensor) -> torch.Tensor:
        return torch.sign(m)


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
