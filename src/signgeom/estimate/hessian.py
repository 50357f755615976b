"""The paper's premises measured on the network Hessian along the Figure 3 trajectories.

With H the Hessian of the fixed objective (``signgeom.estimate.fixed_objective``: the smoothness
estimate's chunks, module mode, precision and layout) and d parameters, at each chosen
snapshot:

- ``lambda_max`` (and the next ``top_k - 1`` eigenvalues) and ``lambda_min`` by Lanczos
  (``signgeom.linalg.lanczos``, ARPACK on curvlinops' ``HessianLinearOperator`` seen through
  ``signgeom.estimate.counting_operator``);
- ``trace(H)`` by Hutchinson deflated with the top-k Ritz vectors (``signgeom.linalg.hutchinson``),
  ``lambda_bar = tr H / d`` and ``lambda_max / lambda_bar`` with its range at ``trace +- 2 se``;
- the spectral density by stochastic Lanczos quadrature (``signgeom.estimate.slq``);
- exact principal blocks and their ``rho_diag``, norms and bounds
  (``signgeom.estimate.hessian_blocks``);
- ``phi(g)`` of the full gradient on the same chunks, and the Eq. 13 expression
  ``rho_diag (lambda_max / lambda_bar) phi(g)`` with the mean block ``rho_diag`` in place of the
  (unmeasurable, d x d) full one.

The operator runs with batch and layer norm's affine maps split off
(``signgeom.estimate.batchnorm_hvp``).
Every random draw comes from a seeded generator inside ``torch.random.fork_rng``: the stage
leaves the global RNG states, the parameters and the buffers bitwise unchanged.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from curvlinops import HessianLinearOperator
from scipy.sparse.linalg import LinearOperator
from torch import nn

from signgeom.cli import run_cli
from signgeom.estimate.batchnorm_hvp import split_affine_norms
from signgeom.estimate.counting_operator import CountingOperator
from signgeom.estimate.estimate_settings import HessianMethod, HessianSettings
from signgeom.estimate.fixed_objective import (
    Chunks,
    count_examples,
    fixed_mode,
    full_gradient,
    hessian_operator,
    load_objective,
    mean_loss,
    second_order_kernels,
    trainable,
)
from signgeom.estimate.hessian_blocks import (
    BLOCK_KINDS,
    MAX_LAYER_BLOCK,
    block_hessian,
    block_indices,
    block_quantities,
)
from signgeom.estimate.rotated_hessian import RotatedOperator, float64_rotation, to_kept_rotated
from signgeom.estimate.slq import slq_nodes_weights
from signgeom.estimate.smoothness import ROTATION_COLUMNS, gradient_density, run_rotation
from signgeom.estimate.snapshot_loop import (
    SnapshotLoop,
    Table,
    run_with_settings,
    trajectory_parser,
)
from signgeom.linalg.hutchinson import deflated_hutchinson
from signgeom.linalg.lanczos import lanczos_extremes
from signgeom.tasks.registry import task_for_model
from signgeom.training.rotation import BlockRotation

log = logging.getLogger(__name__)

EPOCH_COLUMNS = [
    "model",
    "optimizer",
    "lr",
    "seed",
    "epoch",
    "d",
    "n_examples",
    "loss",
    "phi",
    "lambda_max",
    "lambda_2",
    "lambda_min",
    "lanczos_converged",
    "trace",
    "trace_se",
    "trace_deflated_part",
    "lambda_bar",
    "lambda_bar_se",
    "ratio",
    "ratio_lo",
    "ratio_hi",
    "rho_diag_random",
    "rho_diag_contiguous",
    "rho_diag_last_layer",
    "eq13_random",
    "eq13_contiguous",
    "eq13_last_layer",
    "n_hvp",
    "seconds",
    "bn_mode",
]
BLOCK_COLUMNS = [
    "model",
    "optimizer",
    "epoch",
    "kind",
    "block",
    "k",
    "rho_diag",
    "lambda_max",
    "lambda_min",
    "lambda_bar",
    "ratio",
    "psd",
    "asymmetry",
    "linf1",
    "prop3_bound",
    "phi",
    "R",
    "eq13_bound",
]
DENSITY_COLUMNS = ["model", "optimizer", "epoch", "repeat", "node", "weight"]


@dataclass
class HessianEstimate:
    """One estimate at one point x: the per-epoch row, the block rows and the SLQ rows."""

    row: dict
    blocks: list[dict]
    density: list[dict]


@contextmanager
def _frozen_state(model: nn.Module) -> Iterator[None]:
    """Check on exit that parameters and buffers are bitwise unchanged (a bug otherwise)."""
    before = {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()}
    yield
    after = model.state_dict(keep_vars=True)
    changed = [k for k, v in before.items() if not torch.equal(v, after[k].detach())]
    if changed:
        raise RuntimeError(f"the Hessian stage changed the model's state: {changed}")


def _exact_blocks(
    model: nn.Module,
    loss_fn: nn.Module,
    chunks: Chunks,
    params: list[torch.Tensor],
    op: CountingOperator,
    g: np.ndarray,
    s: HessianMethod,
    rng: np.random.Generator,
    rotation: BlockRotation | None = None,
) -> list[dict]:
    """``block_quantities`` of every block (``BLOCK_KINDS``; no ``last_layer`` block where the
    last tensor has more than ``MAX_LAYER_BLOCK`` entries) as rows; a block inside one
    parameter tensor takes its HVPs from that tensor's own, cheaper Hessian operator. With a
    ``rotation`` (over ``params``), blocks of the Hessian in its coordinates
    (``signgeom.estimate.rotated_hessian``); ``g`` is then the rotated gradient ``S R g``."""
    sizes = [p.numel() for p in params]

    def seen(A: LinearOperator, tensors: list[int] | None = None) -> LinearOperator:
        return A if rotation is None else RotatedOperator(A, float64_rotation(rotation, tensors))

    counts = {"random": s.n_random_blocks, "contiguous": s.n_contiguous_blocks, "last_layer": 1}
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    blocks = []
    for kind in BLOCK_KINDS:
        if kind == "last_layer" and sizes[-1] > MAX_LAYER_BLOCK:
            log.info("no last_layer block: the last tensor has %d > %d entries (e.g. a "
                     "language model's head)", sizes[-1], MAX_LAYER_BLOCK)  # fmt: skip
            continue
        for b, index in enumerate(block_indices(sizes, kind, s.block_size, counts[kind], rng)):
            t = int(np.searchsorted(starts, index[0], side="right")) - 1
            if index[-1] < starts[t + 1]:  # inside tensor t
                sub = CountingOperator(hessian_operator(model, loss_fn, chunks, [params[t]]))
                B, asym = block_hessian(seen(sub, [t]), index - starts[t])
                op.n_hvp += sub.n_hvp
            else:
                B, asym = block_hessian(seen(op), index)
            q = block_quantities(B, g[index], s.max_exact_dim)
            blocks.append({"kind": kind, "block": b, "asymmetry": asym, **q})
    return blocks


def _spectral_density(hop: HessianLinearOperator, s: HessianMethod) -> list[dict]:
    """SLQ nodes and weights as rows."""
    slq = slq_nodes_weights(hop, s.slq_steps, s.slq_repeats, s.seed + 1)
    return [
        {"repeat": r, "node": float(a), "weight": float(w)}
        for r, (nodes, weights) in enumerate(slq)
        for a, w in zip(nodes, weights, strict=True)
    ]


def estimate_hessian(
    model: nn.Module,
    loss_fn: nn.Module,
    chunks: Chunks,
    settings: HessianMethod,
    bn_mode: str = "batch_stats",
    rotation: BlockRotation | None = None,
    density: bool = True,
) -> HessianEstimate:
    """All quantities of the module docstring at the model's current parameters; with a
    ``rotation`` (over the trainable parameters, in order) the blocks, ``phi`` and Eq. 13 are
    taken in its coordinates (``signgeom.estimate.rotated_hessian``; the spectrum is invariant);
    the spectral density only with ``density``."""
    s = settings
    params = trainable(model)
    t0 = time.perf_counter()
    rng = np.random.default_rng(s.seed)
    with ExitStack() as stack, _frozen_state(model), fixed_mode(model, bn_mode):
        g_t = full_gradient(model, loss_fn, chunks, params)  # as in the smoothness estimate
        n = count_examples(chunks)
        loss = mean_loss(model, loss_fn, chunks)
        g = g_t.double().cpu().numpy()
        if rotation is not None:
            rotation = float64_rotation(rotation)
            g_t = rotation.to_rotated(torch.as_tensor(g))  # phi of R g, as the smoothness one
            g = to_kept_rotated(rotation, g)
        stack.enter_context(split_affine_norms(model))
        stack.enter_context(second_order_kernels())
        d = g.size
        hop = hessian_operator(model, loss_fn, chunks, params)
        op = CountingOperator(hop)
        spec = lanczos_extremes(op, s.top_k, rng, s.lanczos_tol, s.lanczos_ncv)
        tr = deflated_hutchinson(op, spec.vectors, s.n_probes, rng)
        blocks = _exact_blocks(model, loss_fn, chunks, params, op, g, s, rng, rotation)
        density_rows = _spectral_density(hop, s) if density else []
        op.n_hvp += s.slq_steps * s.slq_repeats if density else 0
    phi = gradient_density(g_t)
    lam_max = float(spec.top[0])
    lam_bar, lam_bar_se = tr.trace / d, tr.se / d
    ratio = lam_max / lam_bar if lam_bar > 0 else math.nan
    lo = tr.trace - 2 * tr.se  # ratio's range for trace +- 2 se
    hi = tr.trace + 2 * tr.se
    row = {
        "d": d,
        "n_examples": n,
        "loss": loss,
        "phi": phi,
        "lambda_max": lam_max,
        "lambda_2": float(spec.top[1]) if len(spec.top) > 1 else math.nan,
        "lambda_min": spec.lambda_min,
        "lanczos_converged": spec.converged,
        "trace": tr.trace,
        "trace_se": tr.se,
        "trace_deflated_part": tr.exact,
        "lambda_bar": lam_bar,
        "lambda_bar_se": lam_bar_se,
        "ratio": ratio,
        "ratio_lo": lam_max * d / hi if hi > 0 else math.nan,
        "ratio_hi": lam_max * d / lo if lo > 0 else math.inf,
        "bn_mode": bn_mode,
    }
    for kind in BLOCK_KINDS:
        rhos = [b["rho_diag"] for b in blocks if b["kind"] == kind]
        rhos = [r for r in rhos if math.isfinite(r)]  # zero blocks (dead units) have none
        rho = float(np.mean(rhos)) if rhos else math.nan
        row[f"rho_diag_{kind}"] = rho
        row[f"eq13_{kind}"] = rho * ratio * phi
    row["n_hvp"] = op.n_hvp
    row["seconds"] = time.perf_counter() - t0
    return HessianEstimate(row, blocks, density_rows)


def select_epochs(epochs: Sequence[int], stride: int, slq_every: int) -> tuple[list, set]:
    """Every ``stride``-th snapshot epoch counted back from the last, and the SLQ subset:
    every ``slq_every``-th of those, again from the last (0: none)."""
    if stride < 1 or slq_every < 0:
        raise ValueError(f"need stride >= 1 and slq_every >= 0, got {stride}, {slq_every}")
    chosen = sorted(epochs)[::-1][::stride]
    slq = set(chosen[::slq_every]) if slq_every > 0 else set()
    return sorted(chosen), slq


def estimate_run(
    settings: HessianSettings,
    *,
    run_dir: str | Path,
    data_dir: str | Path,
    out: str | Path,
    out_blocks: str | Path,
    out_density: str | Path,
) -> list[dict]:
    """Estimate at the selected snapshot epochs of ``run_dir`` (``select_epochs``); writes the
    three tables atomically. The seed of epoch ``e`` is ``seed + e``; the spectral density runs
    at the ``slq_every`` subset only. The objective is the smoothness estimate's
    (``EstimateSettings``: ``precision`` fp32 or fp64, ``channels_last`` a layout) on its first
    ``n_examples`` images.
    ``rotated_coordinates``: blocks, ``phi`` and Eq. 13 in the run's rotated training
    coordinates, its rotation rebuilt from its ``status.json`` as the smoothness estimate does;
    the per-epoch rows then also hold ``rotation_theta`` and ``rotation_block_size``."""
    s = settings
    loop = SnapshotLoop(run_dir, s.device, s.trajectory_optimizer)
    epochs, slq_epochs = select_epochs(loop.snapshot_epochs(), s.stride, s.slq_every)
    task = task_for_model(s.network)
    loss_fn = task.hessian_loss()
    chunks, net = load_objective(s, data_dir, loop.dev, task)
    rotation, epoch_columns, rotation_row = None, EPOCH_COLUMNS, {}
    if s.rotated_coordinates:
        rotation, theta, block_size = run_rotation(net, status=loop.status)
        epoch_columns = EPOCH_COLUMNS + ROTATION_COLUMNS
        rotation_row = {"rotation_theta": theta, "rotation_block_size": block_size}
    log.info("%s: epochs %s (SLQ at %s), %s", run_dir, epochs, sorted(slq_epochs), s.to_json())

    def one(epoch: int) -> tuple[list[list[dict]], str]:
        at_epoch = replace(s, seed=s.seed + epoch)
        density = epoch in slq_epochs
        est = estimate_hessian(net, loss_fn, chunks, at_epoch, s.bn_mode, rotation, density)
        est.row.update(rotation_row)
        r = est.row
        summary = (
            f"lmax {r['lambda_max']:.4g} | lmin {r['lambda_min']:.4g} | "
            f"lbar {r['lambda_bar']:.4g} +- {r['lambda_bar_se']:.2g} | ratio {r['ratio']:.4g} | "
            f"rho {r['rho_diag_random']:.3g} | phi {r['phi']:.3g} | {r['n_hvp']} HVPs"
        )
        return [[est.row], est.blocks, est.density], summary

    tables = [
        Table(epoch_columns, out),
        Table(BLOCK_COLUMNS, out_blocks),
        Table(DENSITY_COLUMNS, out_density),
    ]
    return loop.estimate(net, s.model, epochs, one, tables)[0]


def main(argv: list[str] | None = None) -> None:
    """Parse ``--settings`` and the flags into one ``HessianSettings`` and estimate."""
    p = trajectory_parser(HessianSettings, "Hessian premises (outliers, rho_diag, Eq. 13).")
    p.add_argument("--out", required=True, help="per-epoch CSV")
    p.add_argument("--out-blocks", required=True, help="per-block CSV")
    p.add_argument("--out-density", required=True, help="SLQ nodes and weights CSV")
    run_with_settings(estimate_run, HessianSettings, p, argv)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
