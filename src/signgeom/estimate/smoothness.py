"""Gradient density and directional finite-difference smoothness estimates (paper Sec. 5.2).

With g = grad f(x) (full batch over a fixed data subset) and d parameters:

- gradient density  phi(g) = ||g||_1^2 / (d ||g||_2^2)  in [1/d, 1];
- L2_hat   = reduce_gamma ||grad f(x + gamma s) - g||_2 / (gamma ||s||_2),   with s = -alpha_gd g;
- Linf_hat = reduce_gamma ||grad f(x + gamma s) - g||_1 / (gamma ||s||_inf),
  with s = -alpha_sign sign(g);
- improvement ratio R_hat = phi(g) d L2_hat / Linf_hat  (Eq. 12).

The probe lengths alpha_gd, alpha_sign follow ``probe_step`` (``probe_alphas``): ``raw`` the
chosen step sizes (the paper's text), ``heavy_ball`` the steady-state step of each optimizer
with momentum beta (SGD: lr_gd / (1 - beta), signSGD: lr_sign per coordinate), ``radius`` both
probes of one Euclidean length r (alpha_gd = r / ||g||_2, alpha_sign = r / ||sign g||_2).

``reduce`` is ``min`` (paper appendix, default) or ``max`` (Zhang et al.'s code). For a
quadratic with Hessian H the quotients are exactly ||H s||_2/||s||_2 and ||H s||_1/||s||_inf.

All gradients of one estimate are of the fixed objective (``signgeom.estimate.fixed_objective``):
the same chunks in the same order and the same fixed module mode: dropout off; batch norm
either uses each chunk's batch statistics without updating its running statistics
(``bn_mode="batch_stats"``) or its running statistics (``bn_mode="running_stats"``, i.e. eval
mode). Cost: 1 + 2 len(gammas) gradient passes; the
2 len(gammas) probe passes either run one after another or, ``batched``, together in one vmapped
pass per chunk (``signgeom.estimate.batched_grad``).

In rotated coordinates ``v = R x`` (a run trained there, ``signgeom.training.rotation``; ``R`` an
isometry onto ``d' >= d`` coordinates) the same quantities are those of ``x -> f(R^T v)``:
``phi(R g)`` with ``d'``, the sign probe ``s = -alpha_sign R^T sign(R g)`` and
``Linf_hat = ||R (grad f(x + gamma s) - g)||_1 / (gamma alpha_sign)``; ``L2_hat`` is unchanged
(``||R y||_2 = ||y||_2`` and ``R^T R g = g``). For a quadratic they are those of the rotated
Hessian ``R H R^T``.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from torch import nn

from signgeom.cli import run_cli
from signgeom.estimate.batched_grad import stacked_gradients, use_batched
from signgeom.estimate.estimate_settings import (
    PROBE_STEPS,
    REDUCTIONS,
    ProbeSettings,
    SmoothnessSettings,
)
from signgeom.estimate.fixed_objective import (
    Chunks,
    LossFn,
    assign_flat,
    compiled,
    count_examples,
    fixed_mode,
    flat_parameters,
    full_gradient,
    load_objective,
    trainable,
)
from signgeom.estimate.snapshot_loop import (
    SnapshotLoop,
    Table,
    run_with_settings,
    trajectory_parser,
)
from signgeom.tasks.registry import task_for_model
from signgeom.training.rotation import BlockRotation

log = logging.getLogger(__name__)


def probe_alphas(
    probe_step: str,
    g: torch.Tensor,
    lr_gd: float,
    lr_sign: float,
    momentum: float = 0.0,
    radius: float | None = None,
) -> tuple[float, float]:
    """(alpha_gd, alpha_sign) of the probes s_gd = -alpha_gd g and s_sign = -alpha_sign sign(g).

    ``raw``: (lr_gd, lr_sign). ``heavy_ball``: (lr_gd / (1 - momentum), lr_sign): with
    m <- beta m + g, SGD's step tends to lr g / (1 - beta), signSGD's stays lr per coordinate.
    ``radius``: (r / ||g||_2, r / ||sign g||_2), so that ||s_gd||_2 = ||s_sign||_2 = r
    (NaN for g = 0).
    """
    # Preconditions of this library function (tests and the sensitivity stage call it with
    # their own values); the workflow's values are refused where they are declared
    # (ProbeSettings).
    if probe_step == "raw":
        return float(lr_gd), float(lr_sign)
    if probe_step == "heavy_ball":
        if not 0 <= momentum < 1:
            raise ValueError(f"heavy_ball probe needs 0 <= momentum < 1, got {momentum}")
        return float(lr_gd) / (1 - momentum), float(lr_sign)
    if probe_step == "radius":
        if radius is None or not radius > 0:
            raise ValueError(f"radius probe needs a positive radius, got {radius}")
        gd = g.detach().double()
        return (
            _quotient(radius, float(gd.norm(2))),
            _quotient(radius, math.sqrt(float(torch.count_nonzero(gd)))),
        )
    raise ValueError(f"probe_step must be one of {PROBE_STEPS}, got {probe_step!r}")


def gradient_density(g: torch.Tensor) -> float:
    """phi(g) = ||g||_1^2 / (d ||g||_2^2); NaN for g = 0."""
    g = g.detach().flatten().double()
    n2sq = float(g.dot(g))
    return float(g.abs().sum()) ** 2 / (g.numel() * n2sq) if n2sq > 0 else float("nan")


def improvement_ratio(phi: float, d: int, L2: float, Linf: float) -> float:
    """R = phi d L2 / Linf (Eq. 12): (||g||_1^2/Linf) / (||g||_2^2/L2); NaN if undefined."""
    if not Linf > 0 or math.isnan(phi):
        return float("nan")
    return phi * d * L2 / Linf


def _quotient(num: float, den: float) -> float:
    """num / den, NaN (not ZeroDivisionError) for den = 0 (g = 0: no direction to probe)."""
    return num / den if den > 0 else float("nan")


def probe_gradients(
    model: nn.Module,
    loss_fn: LossFn,
    chunks: Chunks,
    params: Sequence[torch.Tensor],
    points: Sequence[torch.Tensor],
    batched: bool = False,
) -> list[torch.Tensor]:
    """``full_gradient`` at each flat parameter vector in ``points``: one after another (the
    parameters are set to each point and restored after) or ``batched`` in one vmapped pass."""
    if batched:
        return list(stacked_gradients(model, loss_fn, chunks, torch.stack(list(points))))
    x0 = flat_parameters(params)
    grads = []
    try:
        for point in points:
            assign_flat(params, point)
            grads.append(full_gradient(model, loss_fn, chunks, params))
    finally:
        assign_flat(params, x0)
    return grads


@dataclass
class SmoothnessEstimate:
    """One estimate at one point x; per-gamma quotients kept for inspection."""

    phi: float
    L2_hat: float
    Linf_hat: float
    R_hat: float
    grad_norm2: float
    grad_norm1: float
    d: int
    gamma_L2: float
    gamma_Linf: float
    alpha_gd: float
    alpha_sign: float
    probe_len_gd: float
    probe_len_sign: float
    l2_per_gamma: list[float] = field(default_factory=list, metadata={"column": False})
    linf_per_gamma: list[float] = field(default_factory=list, metadata={"column": False})
    n_grad_passes: int = field(default=0, metadata={"column": False})


ESTIMATE_COLUMNS = [f.name for f in fields(SmoothnessEstimate) if f.metadata.get("column", True)]
# One row per (run, snapshot epoch): the run, the estimate's scalars, the estimator's settings.
OUTPUT_COLUMNS = [
    *("model", "optimizer", "lr", "seed", "epoch"),
    *ESTIMATE_COLUMNS,
    *("probe_step", "reduction", "bn_mode", "n_examples", "precision", "seconds"),
]


def finite_difference_quotients(
    model: nn.Module,
    loss_fn: LossFn,
    chunks: Chunks,
    params: Sequence[torch.Tensor],
    g: torch.Tensor,
    s_gd: torch.Tensor,
    s_sign: torch.Tensor,
    gammas: Sequence[float],
    to_coords: Callable[[torch.Tensor], torch.Tensor] | None = None,
    s_sign_coords: torch.Tensor | None = None,
    batched: bool = False,
) -> tuple[list[float], list[float]]:
    """Per gamma: ||grad f(x + gamma s_gd) - g||_2 / (gamma ||s_gd||_2) and
    ||T(grad f(x + gamma s_sign) - g)||_1 / (gamma ||s'||_inf), with T = ``to_coords`` (the
    identity by default) and s' = ``s_sign_coords``, the sign probe in those coordinates
    (default ``s_sign``); the probe gradients one after another or ``batched``
    (``probe_gradients``); parameters restored after."""
    to_coords = to_coords or _identity
    x0 = flat_parameters(params)
    s_gd_norm = float(s_gd.double().norm(2))
    probe = s_sign if s_sign_coords is None else s_sign_coords
    s_sign_norm = float(probe.double().abs().max())
    points = [x0 + gamma * s for gamma in gammas for s in (s_gd, s_sign)]
    grads = probe_gradients(model, loss_fn, chunks, params, points, batched)
    l2s, linfs = [], []
    for gamma, g_gd, g_sign in zip(gammas, grads[0::2], grads[1::2], strict=True):
        l2s.append(_quotient(float((g_gd - g).double().norm(2)), gamma * s_gd_norm))
        diff = to_coords(g_sign - g).double()
        linfs.append(_quotient(float(diff.norm(1)), gamma * s_sign_norm))
    return l2s, linfs


def _check_estimator_args(gammas: Sequence[float], reduction: str) -> None:
    # The library estimator's precondition (called with hand-made values by tests); the
    # workflow's values are refused where they are declared (ProbeSettings).
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if not gammas or any(not gm > 0 for gm in gammas):
        raise ValueError(f"gammas must be a non-empty list of positive numbers, got {gammas}")


def estimate_smoothness(
    model: nn.Module,
    loss_fn: LossFn,
    chunks: Chunks,
    *,
    alpha_gd: float,
    alpha_sign: float,
    gammas: Sequence[float] = (1.0,),
    reduction: str = "min",
    bn_mode: str = "batch_stats",
    probe_step: str = "raw",
    momentum: float = 0.0,
    probe_radius: float | None = None,
    rotation: BlockRotation | None = None,
    batched: bool = False,
) -> SmoothnessEstimate:
    """phi, L2_hat, Linf_hat and R_hat at the model's current parameters (restored after);
    in the coordinates of ``rotation`` (over the trainable parameters, in order) if given;
    ``batched``: the probe gradients in one vmapped pass (``probe_gradients``).

    ``alpha_gd``, ``alpha_sign`` are the chosen step sizes of SGD and signSGD; the probes'
    lengths follow from them by ``probe_step`` (``probe_alphas``).
    """
    _check_estimator_args(gammas, reduction)
    params = trainable(model)
    to_coords = rotation.to_rotated if rotation is not None else _identity
    with fixed_mode(model, bn_mode):
        g = full_gradient(model, loss_fn, chunks, params)
        g_coords = to_coords(g)
        a_gd, a_sign = probe_alphas(
            probe_step, g_coords, alpha_gd, alpha_sign, momentum, probe_radius
        )
        s_gd = -a_gd * g
        s_sign_coords = -a_sign * torch.sign(g_coords)
        s_sign = rotation.from_rotated(s_sign_coords) if rotation is not None else s_sign_coords
        if not (float(s_gd.abs().max()) > 0 and float(s_sign_coords.abs().max()) > 0):
            log.warning("gradient is zero: phi, L2_hat, Linf_hat and R_hat are NaN")
        l2s, linfs = finite_difference_quotients(
            model, loss_fn, chunks, params, g, s_gd, s_sign, gammas, to_coords, s_sign_coords,
            batched,
        )
    i2, iinf = reduce_index(l2s, reduction), reduce_index(linfs, reduction)
    phi = gradient_density(g_coords)
    d = g_coords.numel()
    return SmoothnessEstimate(
        phi=phi,
        L2_hat=l2s[i2],
        Linf_hat=linfs[iinf],
        R_hat=improvement_ratio(phi, d, l2s[i2], linfs[iinf]),
        grad_norm2=float(g.double().norm(2)),
        grad_norm1=float(g_coords.double().norm(1)),
        d=d,
        gamma_L2=float(gammas[i2]),
        gamma_Linf=float(gammas[iinf]),
        alpha_gd=a_gd,
        alpha_sign=a_sign,
        probe_len_gd=float(s_gd.double().norm(2)),
        probe_len_sign=float(s_sign_coords.double().norm(2)),
        l2_per_gamma=l2s,
        linf_per_gamma=linfs,
        n_grad_passes=1 + 2 * len(gammas),
    )


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def reduce_index(values: list[float], reduction: str) -> int:
    """Index of the min (or max) of ``values``, NaN entries ignored; 0 if all are NaN."""
    finite = [i for i, v in enumerate(values) if not math.isnan(v)]
    if not finite:
        return 0
    key = values.__getitem__
    return min(finite, key=key) if reduction == "min" else max(finite, key=key)


def shard_epochs(epochs: Sequence[int], shard: int, n_shards: int) -> list[int]:
    """Shard ``i`` of ``n`` takes every n-th of the sorted epochs, starting at index i."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"need 0 <= shard < n_shards, got {shard}, {n_shards}")
    return sorted(epochs)[shard::n_shards]


def step_sizes_from_csv(path: str | Path, model: str) -> tuple[float, float]:
    """(alpha_gd, alpha_sign) = chosen lr of (model, sgd) and (model, signsgd)."""
    import pandas as pd

    table = pd.read_csv(path)
    rows = table[table["model"] == model].set_index("optimizer")["lr"]
    return float(rows["sgd"]), float(rows["signsgd"])


def estimate_run(
    settings: SmoothnessSettings,
    *,
    run_dir: str | Path,
    data_dir: str | Path,
    step_sizes: str | Path,
    out: str | Path,
) -> list[dict]:
    """Estimate at this shard's snapshot epochs of ``run_dir`` (``shard_epochs``); writes
    ``out`` atomically.

    The step sizes are the selected ones of ``settings.model`` in ``step_sizes`` (the selection
    table): SGD's and signSGD's (``step_sizes_from_csv``), turned into probe lengths by
    ``probe_step`` with ``momentum`` and ``probe_radius`` (``probe_alphas``).

    Runs in strict fp32 (TF32 off) or fp64 (``precision``), whatever precision trained the
    run: the estimate differences two gradients. ``n_examples`` None: every training image.
    ``channels_last`` (NHWC convolutions) is a layout choice: faster on GPUs, same precision.
    ``compile``: the probes' forward passes through the compiled network (``compiled``), the
    probes sequential.

    ``rotated_coordinates``: estimate in the coordinates the run was trained in, its rotation
    rebuilt from its ``status.json`` (``rotation_theta``, ``rotation_block_size``, ``seed``);
    the rows then also hold ``rotation_theta`` and ``rotation_block_size``.
    ``batched`` (auto | true | false): the probe gradients in one vmapped pass
    (``signgeom.estimate.batched_grad.use_batched``; auto = the faster path measured on the device).
    """
    s = settings
    alpha_gd, alpha_sign = step_sizes_from_csv(step_sizes, s.model)
    loop = SnapshotLoop(run_dir, s.device, s.trajectory_optimizer)
    batched_probes = use_batched(s.batched, loop.dev) and not s.compile
    epochs = shard_epochs(loop.snapshot_epochs(), s.shard, s.n_shards)
    task = task_for_model(s.network)
    chunks, net = load_objective(s, data_dir, loop.dev, task)
    forward = compiled(net) if s.compile else net  # the snapshots load into net
    n_used = count_examples(chunks)
    rotation, columns, rotation_row = None, OUTPUT_COLUMNS, {}
    if s.rotated_coordinates:
        rotation, theta, block_size = run_rotation(net, status=loop.status)
        columns = OUTPUT_COLUMNS + ROTATION_COLUMNS
        rotation_row = {"rotation_theta": theta, "rotation_block_size": block_size}
    row_settings = {"probe_step": s.probe_step, "reduction": s.reduction}
    row_settings |= {"bn_mode": s.bn_mode, "n_examples": n_used, "precision": s.precision}
    log.info(
        "%s: %d snapshot epochs in shard %d/%d, %d examples, %d gradient passes each (%s%s)",
        run_dir,
        len(epochs),
        s.shard,
        s.n_shards,
        n_used,
        1 + 2 * len(s.gammas),
        "probes batched" if batched_probes else "probes sequential",
        ", compiled network" if s.compile else "",
    )

    def one(epoch: int) -> tuple[list[list[dict]], str]:
        t0 = time.perf_counter()
        est = estimate_smoothness(
            forward,
            task.loss,
            chunks,
            alpha_gd=alpha_gd,
            alpha_sign=alpha_sign,
            rotation=rotation,
            batched=batched_probes,
            **s.probes(),
        )
        seconds = time.perf_counter() - t0
        if not math.isfinite(est.R_hat):
            log.warning("non-finite R_hat at epoch %d", epoch)
        row = {**asdict(est), **row_settings, "seconds": seconds, **rotation_row}
        summary = f"phi {est.phi:.4g} | L2 {est.L2_hat:.4g} | Linf {est.Linf_hat:.4g}"
        return [[row]], f"{summary} | R {est.R_hat:.4g}"

    return loop.estimate(net, s.model, epochs, one, [Table(columns, out)])[0]


ROTATION_COLUMNS = ["rotation_theta", "rotation_block_size"]


def run_rotation(net: nn.Module, status: dict) -> tuple[BlockRotation | None, float, int | None]:
    """The rotation a run was trained with (None at theta = 0), over ``net``'s trainable
    parameters in ``net``'s dtype and device, and its ``(theta, block_size)``."""
    theta = float(status.get("rotation_theta", 0.0))
    block_size = status.get("rotation_block_size")
    if theta == 0.0:
        return None, theta, block_size
    named = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    first = named[0][1]
    sizes = [(n, p.numel()) for n, p in named]
    rotation = BlockRotation(sizes, theta, block_size, status["seed"], first.dtype, first.device)
    return rotation, theta, block_size


def probe_parser(settings: type[ProbeSettings], description: str) -> argparse.ArgumentParser:
    """The command line of an estimate by finite-difference probes (this module's and the
    sensitivity stage's): the trajectory's (``trajectory_parser``), the selection table and the
    output."""
    p = trajectory_parser(settings, description)
    p.add_argument("--step-sizes", required=True, help="selection CSV: chosen sgd/signsgd lr")
    p.add_argument("--out", required=True, help="output CSV")
    return p


def main(argv: list[str] | None = None) -> None:
    """Parse ``--settings`` and the flags into one ``SmoothnessSettings`` and estimate."""
    parser = probe_parser(SmoothnessSettings, "Smoothness / improvement-ratio estimates.")
    run_with_settings(estimate_run, SmoothnessSettings, parser, argv)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
