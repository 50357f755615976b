"""Majority vote across workers: steps and bits to the target for ``M`` workers.

At one dimension, for each noise geometry and distribution (:mod:`signgeom.quadratic.noise`)
and each worker count ``M``: SGD steps along the mean of ``M`` workers' stochastic gradients
(rule ``sgd``), signSGD along the majority vote ``sign(sum_m sign(g~_m))`` (rule ``vote``;
``M = 1`` is plain signSGD). No momentum. Each (geometry, distribution, M, optimizer) gets its
own tuned constant step size.

Bit model (uplink, worker to server, per step): every worker sends ``32 d`` bits for SGD (fp32)
and ``d`` bits for signSGD, so ``bits = steps * M * bits_per_worker_step``; the server's
broadcast back is not counted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.cli import run_cli
from signgeom.quadratic.noise import GEOMETRIES, l1_over_l2, noise_distribution
from signgeom.quadratic.noise_dimension import (
    runs_and_tuning_cli,
    tuning_row,
    write_runs_and_tuning,
)
from signgeom.quadratic.problems import (
    ProblemSpec,
    problem_spec,
    step_size_grids,
)
from signgeom.quadratic.settings import MajoritySettings
from signgeom.quadratic.stochastic import steps_for, tune_step_size

log = logging.getLogger(__name__)

RULE = {"sgd": "sgd", "signsgd": "vote"}
"""Part 2's optimizers -> update rule with M workers."""

BITS_PER_COORDINATE = {"sgd": 32, "signsgd": 1}
"""Uplink bits per coordinate per worker and step."""


def run_workers(
    spec: ProblemSpec,
    dim: int,
    workers: Sequence[int],
    distributions: Sequence[str],
    grids: dict[str, np.ndarray],
    max_steps: int,
    widen: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(runs, tuning)`` as in :func:`signgeom.quadratic.noise_dimension.run_dimensions`."""
    missing = set(RULE) - set(grids)
    if missing:
        raise ValueError(f"no step-size grid for the optimizers {sorted(missing)}")
    problem, x0 = spec.quadratic(dim), spec.starts(dim)
    target = spec.targets(problem, x0)
    runs, tuning = [], []
    for geometry in GEOMETRIES:
        sigma = spec.sigma(geometry, dim)
        for d_index, name in enumerate(distributions):
            dist = noise_distribution(name)
            for m in workers:
                for optimizer, rule in RULE.items():
                    evaluate = partial(
                        steps_for,
                        problem=problem,
                        x0=x0,
                        rule=rule,
                        max_steps=max_steps,
                        sigma=sigma,
                        dist=dist,
                        make_rng=partial(spec.noise_rng, dim, geometry, d_index, m),
                        target=target,
                        workers=m,
                    )
                    tuned = tune_step_size(evaluate, grids[optimizer], widen)
                    keys = dict(
                        geometry=geometry, distribution=name, workers=m, optimizer=optimizer
                    )
                    row = tuning_row(
                        tuned,
                        dim=dim,
                        **keys,
                        sigma_l1_over_l2=l1_over_l2(sigma),
                        bits_per_worker_step=BITS_PER_COORDINATE[optimizer] * dim,
                    )
                    tuning.append(row)
                    log.info("%s", row)
                    runs.append(
                        pd.DataFrame({**keys, "run": np.arange(spec.runs), "steps": tuned.steps})
                    )
    return pd.concat(runs, ignore_index=True), pd.DataFrame(tuning)


def write_workers(
    settings: MajoritySettings, *, out_runs: str | Path, out_tuning: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`run_workers` of ``settings`` (worker counts ascending); the runs go to
    ``out_runs`` (parquet), the tuning to ``out_tuning`` (CSV)."""
    if 1 not in settings.workers:
        raise ValueError("workers must include 1 (the speed-up is relative to one worker)")
    runs, tuning = run_workers(
        problem_spec(settings),
        settings.dim,
        sorted(settings.workers),
        settings.distributions,
        step_size_grids(settings),
        settings.max_steps,
        settings.widen,
    )
    write_runs_and_tuning(runs, tuning, out_runs, out_tuning)
    return runs, tuning


def main(argv: Sequence[str] | None = None) -> None:
    runs_and_tuning_cli(MajoritySettings, write_workers, argv)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
