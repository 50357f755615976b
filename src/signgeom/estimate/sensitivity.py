"""How R_hat depends on the probe length: at a few snapshot epochs of a trajectory, the
finite-difference quotients over a grid of multipliers ``c`` of the probe lengths.

For each ``c`` the probes are ``s_gd = -c alpha_gd g`` and ``s_sign = -c alpha_sign sign(g)``,
``(alpha_gd, alpha_sign)`` from ``probe_step`` (``signgeom.estimate.smoothness.probe_alphas``);
per gamma the quotients ``||grad f(x + gamma s) - g|| / (gamma ||s||)`` and
``R_gamma = phi d L2_gamma / Linf_gamma``; ``R_hat`` reduces the quotients over the gammas as
the estimator does. A row is flagged (``lengths_differ``) when the two probes' Euclidean
lengths differ by more than ``length_factor``: the two quotients are then measured at
different scales. On a quadratic every quotient is independent of ``c``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from signgeom.cli import run_cli
from signgeom.estimate.estimate_settings import SensitivitySettings
from signgeom.estimate.fixed_objective import (
    Chunks,
    LossFn,
    fixed_mode,
    full_gradient,
    load_objective,
    trainable,
)
from signgeom.estimate.smoothness import (
    finite_difference_quotients,
    gradient_density,
    improvement_ratio,
    probe_alphas,
    probe_parser,
    reduce_index,
    step_sizes_from_csv,
)
from signgeom.estimate.snapshot_loop import SnapshotLoop, Table, run_with_settings
from signgeom.tasks.registry import task_for_model

log = logging.getLogger(__name__)

COLUMNS = [
    *("model", "optimizer", "lr", "seed", "epoch", "probe_step", "factor", "gamma"),
    *("alpha_gd", "alpha_sign", "probe_len_gd", "probe_len_sign", "length_ratio"),
    *("lengths_differ", "phi", "d", "L2_q", "Linf_q", "R_gamma", "R_hat"),
]


def spread_epochs(epochs: Sequence[int], n: int) -> list[int]:
    """``n`` of the sorted ``epochs``, evenly spaced by index, first and last included; for
    ``n = 1`` the last (where the trajectories, and the probes' lengths, differ most)."""
    ordered = sorted(epochs)
    if n >= len(ordered):
        return ordered
    if n == 1:
        return ordered[-1:]
    picks = np.unique(np.round(np.linspace(0, len(ordered) - 1, n)).astype(int))
    return [ordered[i] for i in picks]


def probe_sensitivity(
    model: nn.Module,
    loss_fn: LossFn,
    chunks: Chunks,
    *,
    lr_gd: float,
    lr_sign: float,
    factors: Sequence[float],
    gammas: Sequence[float],
    reduction: str = "min",
    bn_mode: str = "batch_stats",
    probe_step: str = "raw",
    momentum: float = 0.0,
    probe_radius: float | None = None,
    length_factor: float = 10.0,
) -> list[dict]:
    """Rows (``COLUMNS`` from ``factor`` on) of the quotients at every factor and gamma."""
    params = trainable(model)
    rows = []
    with fixed_mode(model, bn_mode):
        g = full_gradient(model, loss_fn, chunks, params)
        a_gd, a_sign = probe_alphas(probe_step, g, lr_gd, lr_sign, momentum, probe_radius)
        phi, d = gradient_density(g), g.numel()
        for c in factors:
            s_gd, s_sign = -c * a_gd * g, -c * a_sign * torch.sign(g)
            l2s, linfs = finite_difference_quotients(
                model, loss_fn, chunks, params, g, s_gd, s_sign, gammas
            )
            len_gd, len_sign = float(s_gd.double().norm()), float(s_sign.double().norm())
            ratio = max(len_gd, len_sign) / min(len_gd, len_sign)
            i2, iinf = reduce_index(l2s, reduction), reduce_index(linfs, reduction)
            r_hat = improvement_ratio(phi, d, l2s[i2], linfs[iinf])
            for gamma, l2, linf in zip(gammas, l2s, linfs, strict=True):
                rows.append(
                    {
                        "probe_step": probe_step,
                        "factor": c,
                        "gamma": gamma,
                        "alpha_gd": c * a_gd,
                        "alpha_sign": c * a_sign,
                        "probe_len_gd": len_gd,
                        "probe_len_sign": len_sign,
                        "length_ratio": ratio,
                        "lengths_differ": ratio > length_factor,
                        "phi": phi,
                        "d": d,
                        "L2_q": l2,
                        "Linf_q": linf,
                        "R_gamma": improvement_ratio(phi, d, l2, linf),
                        "R_hat": r_hat,
                    }
                )
    return rows


def sensitivity_run(
    settings: SensitivitySettings,
    *,
    run_dir: str | Path,
    data_dir: str | Path,
    step_sizes: str | Path,
    out: str | Path,
) -> list[dict]:
    """``probe_sensitivity`` at ``n_epochs`` snapshot epochs of ``run_dir`` (``spread_epochs``),
    the probe lengths from the selected step sizes of ``settings.model`` in ``step_sizes``;
    writes ``out`` atomically."""
    s = settings
    lr_gd, lr_sign = step_sizes_from_csv(step_sizes, s.model)
    loop = SnapshotLoop(run_dir, s.device, s.trajectory_optimizer)
    epochs = spread_epochs(loop.snapshot_epochs(), s.n_epochs)
    task = task_for_model(s.network)
    chunks, net = load_objective(s, data_dir, loop.dev, task)
    log.info(
        "%s: epochs %s, %d factors x %d gammas", run_dir, epochs, len(s.factors), len(s.gammas)
    )

    def one(epoch: int) -> tuple[list[list[dict]], str]:
        found = probe_sensitivity(
            net,
            task.loss,
            chunks,
            lr_gd=lr_gd,
            lr_sign=lr_sign,
            factors=s.factors,
            length_factor=s.length_factor,
            **s.probes(),
        )
        r_hats = [f"{r['R_hat']:.3g}" for r in found[:: len(s.gammas)]]
        return [found], f"R_hat over factors {r_hats}"

    return loop.estimate(net, s.model, epochs, one, [Table(COLUMNS, out)], unit="epoch")[0]


def main(argv: list[str] | None = None) -> None:
    """Parse ``--settings`` and the flags into one ``SensitivitySettings`` and estimate."""
    parser = probe_parser(SensitivitySettings, "R_hat over a grid of probe lengths.")
    run_with_settings(sensitivity_run, SensitivitySettings, parser, argv)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
