"""Optimizers of Figure 3: heavy-ball SGD and signSGD with momentum, plus the sign family
beyond the paper: Adam, Lion and Muon.

Both heavy-ball methods keep ``m_t = mu * m_{t-1} + g_t`` with ``m_1 = g_1`` (the buffer is
initialised to the first gradient, as in ``torch.optim.SGD``). No optimizer here has weight
decay. Every entry of ``OPTIMIZERS`` takes ``(params, lr, momentum)``; ``momentum`` (the config's
``cifar.momentum``) is the heavy-ball ``mu``, Adam's and Lion's ``beta1`` and Muon's ``mu``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from signgeom.training.device import strict_fp32

Params = Iterable[torch.Tensor] | Iterable[dict]


def check_hyperparameters(lr: float, **betas: float) -> None:
    """``lr > 0`` and every momentum-like coefficient in ``[0, 1)``, else ``ValueError``."""
    # The optimizers' own precondition: they are built outside a training run too (the
    # similarity stage's fresh states, the quadratic and unit tests); a run's momentum is
    # refused where it is declared (TrainSettings.momentum).
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    for name, beta in betas.items():
        if not 0 <= beta < 1:
            raise ValueError(f"{name} must be in [0, 1), got {beta}")


def closure_loss(closure: Callable[[], float] | None) -> float | None:
    """``closure()`` with gradients enabled (the loss it re-evaluates), or None without one."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class _HeavyBall(torch.optim.Optimizer):
    """``m <- mu * m + g`` (``m_1 = g_1``); ``x <- x - lr * direction(m)``."""

    def __init__(self, params: Params, lr: float, momentum: float = 0.9) -> None:
        check_hyperparameters(lr, momentum=momentum)
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @staticmethod
    def _directions(ms: list[torch.Tensor]) -> list[torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One step for every parameter with a gradient, as multi-tensor (``_foreach``) ops:
        a few kernels per step on CUDA instead of a few per parameter tensor; the same
        element-wise arithmetic (on the CPU they loop over the tensors)."""
        loss = closure_loss(closure)
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


LION_BETA2 = 0.99  # Chen et al. (2023)'s default: the momentum that is stored


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023), no weight decay, ``m_0 = 0``:
    ``c = b1 m + (1 - b1) g``, ``x <- x - lr sign(c)``, ``m <- b2 m + (1 - b2) g``.

    ``b1 = momentum`` (published default 0.9) and ``b2 = LION_BETA2`` (0.99); ``sign(0) = 0``.
    """

    def __init__(
        self, params: Params, lr: float, momentum: float = 0.9, beta2: float = LION_BETA2
    ) -> None:
        check_hyperparameters(lr, momentum=momentum, beta2=beta2)
        super().__init__(params, {"lr": lr, "betas": (momentum, beta2)})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            b1, b2 = group["betas"]
            for p in params:
                if "exp_avg" not in self.state[p]:
                    self.state[p]["exp_avg"] = torch.zeros_like(p)
            ms = [self.state[p]["exp_avg"] for p in params]
            grads = [p.grad for p in params]
            c = torch._foreach_mul(ms, b1)
            torch._foreach_add_(c, grads, alpha=1 - b1)
            torch._foreach_add_(params, torch._foreach_sign(c), alpha=-group["lr"])
            torch._foreach_mul_(ms, b2)
            torch._foreach_add_(ms, grads, alpha=1 - b2)
        return loss


# Keller Jordan's quintic Newton-Schulz coefficients and step count (Muon, 2024).
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
NS_EPS = 1e-7


def orthogonalise(g: torch.Tensor, steps: int = NS_STEPS) -> torch.Tensor:
    """Keller Jordan's quintic Newton-Schulz approximation of ``U V^T`` (``g = U S V^T``),
    computed in at least fp32: ``X <- g / max(||g||_F, eps)`` (transposed if tall), then
    ``steps`` times ``X <- a X + (b A + c A^2) X`` with ``A = X X^T``. Each singular value
    ``s`` of ``X`` maps to ``p(s) = a s + b s^3 + c s^5``; after 5 steps the singular values lie
    roughly in [0.7, 1.2] (not exactly 1: the coefficients favour speed near 0)."""
    if g.ndim != 2:
        raise ValueError(f"orthogonalise needs a 2-D matrix, got shape {tuple(g.shape)}")
    a, b, c = NS_COEFFICIENTS
    x = g.to(torch.promote_types(g.dtype, torch.float32))
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=NS_EPS)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if tall else x).to(g.dtype)


class Muon(torch.optim.Optimizer):
    """Muon (Keller Jordan 2024) with Nesterov momentum and no weight decay.

    Every parameter keeps a heavy-ball buffer ``m <- mu m + g`` (``m_1 = g_1``) and uses
    ``u = g + mu m`` (Nesterov). A parameter with ``ndim >= 2`` (a linear weight, or a conv
    weight reshaped to ``(out, in * kh * kw)``) steps
    ``x <- x - lr sqrt(max(1, rows / cols)) orthogonalise(u)``; the others (biases, batch-norm
    scales and shifts) step by the fallback, heavy-ball SGD at the same lr: ``x <- x - lr u``.
    The published buffer ``beta m + (1 - beta) g`` differs from ``m`` by a factor only, which
    the normalisation inside ``orthogonalise`` removes.
    """

    def __init__(self, params: Params, lr: float, momentum: float = 0.9) -> None:
        check_hyperparameters(lr, momentum=momentum)
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @staticmethod
    def direction(p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The step direction of ``p`` for the Nesterov momentum ``u`` (before ``-lr``)."""
        if p.ndim < 2:
            return u
        rows, cols = p.shape[0], p[0].numel()
        scale = max(1.0, rows / cols) ** 0.5
        return orthogonalise(u.reshape(rows, cols)).view_as(p) * scale

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = closure_loss(closure)
        with strict_fp32():  # the iteration in fp32 whatever the training precision (no TF32)
            for group in self.param_groups:
                mu = group["momentum"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = p.grad.detach().clone()
                    else:
                        state["momentum_buffer"].mul_(mu).add_(p.grad)
                    u = p.grad.add(state["momentum_buffer"], alpha=mu)
                    p.add_(self.direction(p, u), alpha=-group["lr"])
        return loss


OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": SGDMomentum,
    "signsgd": SignSGDMomentum,
    "adam": adam,
    "lion": Lion,
    "muon": Muon,
}

# Optimizers whose update of a tensor depends on its shape (Muon orthogonalises matrices); the
# others act on each coordinate alone, so they run unchanged on any reshaping of the parameters
# (signgeom.training.rotation hands them (n_blocks, k) blocks).
SHAPE_DEPENDENT: frozenset[str] = frozenset({"muon"})


def build_optimizer(
    name: str, params: Params, lr: float, momentum: float = 0.9
) -> torch.optim.Optimizer:
    """Instantiate the registered optimizer ``name``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known optimizers: {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](params, lr=lr, momentum=momentum)
