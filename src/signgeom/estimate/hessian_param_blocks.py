"""The Hessian's diagonal blocks, one per parameter block of the task's partition.

With ``H`` the Hessian of the fixed objective (``signgeom.estimate.fixed_objective``, as the
Hessian stage's) and the task's partition of the parameters into blocks ``b``
(``Task.parameter_blocks``: a layer's weight and bias, or a named role such as the attention
query), each diagonal block ``H_bb`` (``d_b x d_b``) is an operator of its own: the Hessian of
the objective in the block's parameters, the others fixed. Per block:

- ``lambda_max(H_bb)`` by Lanczos (``signgeom.linalg.lanczos``, top eigenpair only);
- ``tr(H_bb)`` by Hutchinson deflated with that eigenvector (``signgeom.linalg.hutchinson``),
  ``lambda_bar = tr(H_bb) / d_b`` and ``lambda_max / lambda_bar``;
- ``rho_diag`` as the Hessian stage defines it (``signgeom.norms.rho_diag`` of exact ``k x k``
  principal blocks, ``signgeom.estimate.hessian_blocks``), averaged over ``n_random_blocks``
  sets of ``k = block_size`` coordinates drawn uniformly inside the block.

A block with ``d_b <= block_size`` is taken whole from ``d_b`` HVPs: all three exact.

Random draws come from a generator seeded with ``seed + epoch``; the model's state is unchanged.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from torch import nn

from signgeom.cli import run_cli
from signgeom.estimate.batchnorm_hvp import split_affine_norms
from signgeom.estimate.counting_operator import CountingOperator
from signgeom.estimate.estimate_settings import HessianMethod, HessianSettings
from signgeom.estimate.fixed_objective import (
    Chunks,
    fixed_mode,
    hessian_operator,
    load_objective,
    second_order_kernels,
)
from signgeom.estimate.hessian import select_epochs
from signgeom.estimate.hessian_blocks import block_hessian
from signgeom.estimate.snapshot_loop import (
    SnapshotLoop,
    Table,
    run_with_settings,
    trajectory_parser,
)
from signgeom.linalg.hutchinson import deflated_hutchinson
from signgeom.linalg.lanczos import lanczos_extremes
from signgeom.norms import rho_diag
from signgeom.tasks.base import ParameterBlock, check_partition
from signgeom.tasks.registry import task_for_model

log = logging.getLogger(__name__)

COLUMNS = [
    "model",
    "optimizer",
    "lr",
    "seed",
    "epoch",
    "block",
    "role",
    "d_block",
    "lambda_max",
    "lanczos_converged",
    "trace",
    "trace_se",
    "lambda_bar",
    "lambda_bar_se",
    "ratio",
    "rho_diag",
    "n_hvp",
    "seconds",
]


def _rho_diag(op: CountingOperator, d: int, s: HessianMethod, rng: np.random.Generator) -> float:
    """Mean ``rho_diag`` of ``n_random_blocks`` exact principal blocks of ``block_size``
    coordinates drawn in the block; NaN if every one is zero (dead units)."""
    rhos = []
    for _ in range(s.n_random_blocks):
        B, _ = block_hessian(op, np.sort(rng.choice(d, s.block_size, replace=False)))
        if np.abs(B).sum() > 0:
            rhos.append(float(rho_diag(B)))
    return float(np.mean(rhos)) if rhos else math.nan


def _spectral(op: CountingOperator, s: HessianMethod, rng: np.random.Generator) -> dict:
    """``lambda_max``, trace and ``rho_diag`` of the block operator ``op``: exact from the
    dense block where ``d_b <= block_size`` (``d_b`` HVPs), else by Lanczos, deflated
    Hutchinson and sampled sub-blocks."""
    d = op.shape[0]
    if d <= s.block_size:
        B, _ = block_hessian(op, np.arange(d))
        rho = float(rho_diag(B)) if np.abs(B).sum() > 0 else math.nan
        lam = float(np.linalg.eigvalsh(B)[-1])
        return {"lambda_max": lam, "lanczos_converged": True, "trace": float(np.trace(B)),
                "trace_se": 0.0, "rho_diag": rho}  # fmt: skip
    spec = lanczos_extremes(op, 1, rng, s.lanczos_tol, s.lanczos_ncv, smallest=False)
    tr = deflated_hutchinson(op, spec.vectors[:, :1], s.n_probes, rng)
    return {
        "lambda_max": float(spec.top[0]) if len(spec.top) else math.nan,
        "lanczos_converged": spec.converged,
        "trace": tr.trace,
        "trace_se": tr.se,
        "rho_diag": _rho_diag(op, d, s, rng),
    }


def block_statistics(
    model: nn.Module,
    loss_fn: nn.Module,
    chunks: Chunks,
    blocks: list[ParameterBlock],
    settings: HessianMethod,
    bn_mode: str = "batch_stats",
) -> list[dict]:
    """One row per block (module docstring) at the model's current parameters."""
    check_partition(model, blocks)
    s = settings
    rng = np.random.default_rng(s.seed)
    by_name = dict(model.named_parameters())
    rows = []
    with fixed_mode(model, bn_mode), split_affine_norms(model), second_order_kernels():
        for block in blocks:
            t0 = time.perf_counter()
            params = [by_name[n] for n in block.parameters]
            op = CountingOperator(hessian_operator(model, loss_fn, chunks, params))
            d = op.shape[0]
            q = _spectral(op, s, rng)
            lam_bar = q["trace"] / d
            rows.append(
                {
                    "block": block.name,
                    "role": block.role,
                    "d_block": d,
                    **q,
                    "lambda_bar": lam_bar,
                    "lambda_bar_se": q["trace_se"] / d,
                    "ratio": q["lambda_max"] / lam_bar if lam_bar > 0 else math.nan,
                    "n_hvp": op.n_hvp,
                    "seconds": time.perf_counter() - t0,
                }
            )
            log.debug(
                "block %s: d %d, %d HVPs, %.1f s", block.name, d, op.n_hvp, rows[-1]["seconds"]
            )
    return rows


def estimate_run(
    settings: HessianSettings, *, run_dir: str | Path, data_dir: str | Path, out: str | Path
) -> list[dict]:
    """:func:`block_statistics` at the Hessian stage's snapshot epochs of ``run_dir``
    (``signgeom.estimate.hessian.select_epochs``: every ``stride``-th from the last), on its
    estimation set (the first ``n_examples`` training examples); the seed of epoch ``e`` is
    ``seed + e``. Writes the table ``out`` (``COLUMNS``) atomically."""
    s = settings
    loop = SnapshotLoop(run_dir, s.device, s.trajectory_optimizer)
    epochs, _ = select_epochs(loop.snapshot_epochs(), s.stride, 0)
    task = task_for_model(s.network)
    loss_fn = task.hessian_loss()
    chunks, net = load_objective(s, data_dir, loop.dev, task)
    blocks = task.parameter_blocks(net)
    log.info("%s: epochs %s, %d blocks, %s", run_dir, epochs, len(blocks), s.to_json())

    def one(epoch: int) -> tuple[list[list[dict]], str]:
        rows = block_statistics(net, loss_fn, chunks, blocks, replace(s, seed=s.seed + epoch),
                                s.bn_mode)  # fmt: skip
        lmax = [r["lambda_max"] for r in rows]
        summary = (
            f"lambda_max over blocks {min(lmax):.3g} .. {max(lmax):.3g} | "
            f"{sum(r['n_hvp'] for r in rows)} HVPs in {sum(r['seconds'] for r in rows):.1f} s"
        )
        return [rows], summary

    return loop.estimate(net, s.model, epochs, one, [Table(COLUMNS, out)])[0]


def main(argv: list[str] | None = None) -> None:
    """Parse ``--settings`` and the flags into one ``HessianSettings`` and estimate."""
    p = trajectory_parser(HessianSettings, "Per-block Hessian statistics along a trajectory.")
    p.add_argument("--out", required=True, help="per-block CSV")
    run_with_settings(estimate_run, HessianSettings, p, argv)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
