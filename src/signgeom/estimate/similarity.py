"""How much an optimizer's update looks like signSGD-momentum's, along its own trajectory.

At a snapshot ``x`` of a run, with ``g_1..g_K`` the minibatch gradients at ``x`` of ``K`` fixed
minibatches (``warmup_gradients``), the update of optimizer ``O`` is the step it takes after
seeing ``g_1..g_K`` from a fresh state, the parameters held at ``x`` (``update_after``); signSGD
with momentum sees the same gradients. Snapshots hold weights only (no optimizer state), so this
fresh warm-up is what "from the same state" means here: both methods start from zero state and
see the same gradient stream at the same point. No optimizer here has weight decay, so an
update does not depend on ``x`` itself and ``lr`` only scales it; both measures below are
scale-free:

- ``sign_agreement = mean_i [sign(u_O)_i == sign(u_S)_i]`` over all ``d`` coordinates
  (``sign(0) = 0``: a zero matches only a zero);
- ``cosine = <u_O, u_S> / sqrt(<u_O, u_O> <u_S, u_S>)`` (in float64; NaN for a zero update).

With ``beta1 = mu`` (both are ``cifar.momentum``), SGD's update ``m`` and Adam's
``m_hat / (sqrt(v_hat) + eps)`` have exactly the signs of the heavy-ball buffer, so their sign
agreement is 1 by construction and only the cosine separates them from signSGD-momentum;
Lion (sign of an interpolation with a slower buffer) and Muon (orthogonalised matrices) can
disagree in sign.

The network is in the estimator's fixed mode (``signgeom.estimate.fixed_objective.fixed_mode``:
dropout off, batch norm per ``bn_mode``). Minibatch ``k`` is the ``k``-th slice of
``batch_size`` images of one permutation of the training set drawn from ``seed`` (the
permutation is repeated if ``K * batch_size`` exceeds the training set).
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from signgeom.cli import optional_int, run_cli
from signgeom.estimate.fixed_objective import BN_MODES, LossFn, fixed_mode, trainable
from signgeom.estimate.snapshot_loop import SnapshotLoop, Table
from signgeom.training.device import DEVICE_CHOICES
from signgeom.training.optimizers import OPTIMIZERS, build_optimizer
from signgeom.training.run_settings import network_of

log = logging.getLogger(__name__)

REFERENCE = "signsgd"  # signSGD with momentum: what every update is compared with
Gradients = Sequence[Sequence[torch.Tensor]]
OUTPUT_COLUMNS = [
    *("model", "optimizer", "lr", "seed", "epoch"),
    *("sign_agreement", "cosine", "d", "warmup_steps", "batch_size", "momentum", "bn_mode"),
]


def update_after(name: str, grads: Gradients, momentum: float) -> torch.Tensor:
    """Flat update ``-(x_K - x_{K-1})`` of optimizer ``name`` (lr 1, fresh state) fed the
    gradient lists ``grads[0..K-1]`` (one tensor per parameter); the parameters are reset to
    zero before each step, so the update is exact, not a difference of two large numbers."""
    if not grads:
        raise ValueError("need at least one gradient")
    params = [torch.zeros_like(g, requires_grad=True) for g in grads[0]]
    opt = build_optimizer(name, params, lr=1.0, momentum=momentum)
    for step in grads:
        with torch.no_grad():
            for p, g in zip(params, step, strict=True):
                p.zero_()
                p.grad = g.detach().clone()
        opt.step()
    return -torch.cat([p.detach().reshape(-1) for p in params])


def sign_agreement(u: torch.Tensor, v: torch.Tensor) -> float:
    """Fraction of coordinates where ``sign(u) == sign(v)``."""
    return float((torch.sign(u) == torch.sign(v)).double().mean())


def cosine(u: torch.Tensor, v: torch.Tensor) -> float:
    """``<u, v> / sqrt(<u, u> <v, v>)`` in float64 (exactly 1 for ``u = v`` in {-1, 0, 1})."""
    u, v = u.double(), v.double()
    den = float(u.dot(u)) * float(v.dot(v))
    return float(u.dot(v)) / math.sqrt(den) if den > 0 else float("nan")


def similarity_to_signsgd(name: str, grads: Gradients, momentum: float) -> dict[str, float]:
    """``sign_agreement`` and ``cosine`` of ``name``'s update with signSGD-momentum's."""
    u, s = update_after(name, grads, momentum), update_after(REFERENCE, grads, momentum)
    return {"sign_agreement": sign_agreement(u, s), "cosine": cosine(u, s), "d": u.numel()}


def warmup_batches(n: int, batch_size: int, steps: int, seed: int) -> list[torch.Tensor]:
    """Index tensors of the ``steps`` fixed minibatches (module docstring)."""
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    reps = math.ceil(steps * batch_size / n)
    order = perm.repeat(reps)
    return [order[k * batch_size : (k + 1) * batch_size] for k in range(steps)]


def warmup_gradients(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batches: Sequence[torch.Tensor],
    bn_mode: str,
    loss_fn: LossFn = F.cross_entropy,
) -> list[list[torch.Tensor]]:
    """Per minibatch, the gradient of its mean loss (``loss_fn``) at the current parameters."""
    params = trainable(net)
    out = []
    with fixed_mode(net, bn_mode):
        for idx in batches:
            idx = idx.to(x.device)
            loss = loss_fn(net(x.index_select(0, idx)), y.index_select(0, idx))
            out.append([g.detach() for g in torch.autograd.grad(loss, params)])
    return out


def similarity_run(
    *,
    model: str,
    architecture: str | None = None,
    run_dir: str | Path,
    warmup_steps: int,
    batch_size: int,
    momentum: float,
    bn_mode: str,
    train_limit: int | None,
    data_dir: str | Path,
    device: str,
    out: str | Path,
) -> list[dict]:
    """One row per snapshot epoch of ``run_dir`` (its optimizer's update against
    signSGD-momentum's; module docstring); writes ``out`` atomically. ``model`` names the
    rows; ``architecture`` is its network (None: the model's name)."""
    from signgeom.tasks.registry import task_for_model

    if warmup_steps < 1 or batch_size < 1:
        raise ValueError(f"need warmup_steps, batch_size >= 1, got {warmup_steps}, {batch_size}")
    if bn_mode not in BN_MODES:
        raise ValueError(f"bn_mode must be one of {BN_MODES}, got {bn_mode!r}")
    loop = SnapshotLoop(run_dir, device)
    optimizer, seed = loop.optimizer, int(loop.status["seed"])
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"{run_dir}: unknown optimizer {optimizer!r}")
    network = network_of(model, architecture)
    task = task_for_model(network)
    data = task.load(data_dir, network, loop.dev, train_limit, 0)
    net = task.build_model(network, data).to(loop.dev)
    batches = warmup_batches(data.train_x.shape[0], batch_size, warmup_steps, seed)
    settings = {"warmup_steps": warmup_steps, "batch_size": batch_size, "momentum": momentum}
    settings["bn_mode"] = bn_mode

    def one(epoch: int) -> tuple[list[list[dict]], str]:
        grads = warmup_gradients(net, data.train_x, data.train_y, batches, bn_mode, task.loss)
        sim = similarity_to_signsgd(optimizer, grads, momentum)
        summary = f"sign agreement {sim['sign_agreement']:.4f} | cosine {sim['cosine']:.4f}"
        return [[{**sim, **settings}]], summary

    table = Table(OUTPUT_COLUMNS, out)
    return loop.estimate(net, model, loop.snapshot_epochs(), one, [table], unit="snapshot")[0]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="the run's model (a key of cifar.models)")
    p.add_argument(
        "--architecture",
        default=None,
        help="its network, a model of signgeom.tasks.registry (default: the model's name)",
    )
    p.add_argument("--run-dir", required=True, help="training run directory (snapshots/)")
    p.add_argument("--warmup-steps", type=int, required=True, help="K minibatch gradients")
    p.add_argument("--batch-size", type=int, required=True, help="images per minibatch")
    p.add_argument("--momentum", type=float, required=True, help="the runs' momentum / beta1")
    p.add_argument("--bn-mode", choices=BN_MODES, required=True, help="batch-norm statistics")
    p.add_argument("--train-limit", type=optional_int, required=True, help="none = all")
    p.add_argument(
        "--data-dir", required=True, help="the task's data (CIFAR-10's batches; charlm's text)"
    )
    p.add_argument("--device", choices=DEVICE_CHOICES, required=True, help="where to compute")
    p.add_argument("--out", required=True, help="output CSV")
    similarity_run(**vars(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
