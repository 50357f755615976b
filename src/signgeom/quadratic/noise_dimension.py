"""Dense vs sparse noise across dimension: steps of SGD and signSGD (with and without momentum) to
the target, each at its tuned constant step size.

For every dimension ``d`` and noise geometry (:mod:`signgeom.quadratic.noise`), every optimizer of
:data:`signgeom.quadratic.stochastic.OPTIMIZERS` gets its step size tuned on its log grid
(fewest median steps, widened at an edge), with the same starts and noise draws for all. Writes
the per-run steps (``inf``: target not reached within ``max_steps``) and the tuning table.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.cli import run_cli
from signgeom.io import atomic_output, write_table
from signgeom.quadratic.noise import GEOMETRIES, NOISE_DISTRIBUTIONS, l1_over_l2
from signgeom.quadratic.problems import (
    ProblemSpec,
    problem_spec,
    step_size_grids,
)
from signgeom.quadratic.settings import NoiseDimensionSettings, NoiseSettings
from signgeom.quadratic.stochastic import OPTIMIZERS, steps_for, tune_step_size

log = logging.getLogger(__name__)


def tuning_row(tuned, **keys) -> dict:
    """The columns every stage records about a tuned step size."""
    return {
        **keys,
        "lr": tuned.lr,
        "lr_grid_min": float(tuned.grid[0]),
        "lr_grid_max": float(tuned.grid[-1]),
        "grid_points": len(tuned.grid),
        "widenings": tuned.widenings,
        "at_edge": tuned.at_edge,
        "reached_fraction": tuned.reached,
        "median_steps": float(np.median(tuned.steps)),
    }


def run_dimensions(
    spec: ProblemSpec,
    dims: Sequence[int],
    grids: dict[str, np.ndarray],
    max_steps: int,
    momentum: float,
    widen: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(runs, tuning)``: per-run steps at the chosen step sizes, and one row per choice."""
    missing = set(OPTIMIZERS) - set(grids)
    if missing:
        raise ValueError(f"no step-size grid for the optimizers {sorted(missing)}")
    gaussian = NOISE_DISTRIBUTIONS["gaussian"]
    runs, tuning = [], []
    for dim in dims:
        problem, x0 = spec.quadratic(dim), spec.starts(dim)
        target = spec.targets(problem, x0)
        for geometry in GEOMETRIES:
            sigma = spec.sigma(geometry, dim)
            for name, (rule, with_momentum) in OPTIMIZERS.items():
                evaluate = partial(
                    steps_for,
                    problem=problem,
                    x0=x0,
                    rule=rule,
                    max_steps=max_steps,
                    sigma=sigma,
                    dist=gaussian,
                    make_rng=partial(spec.noise_rng, dim, geometry),
                    target=target,
                    momentum=momentum if with_momentum else 0.0,
                )
                tuned = tune_step_size(evaluate, grids[name], widen)
                keys = dict(dim=dim, geometry=geometry, optimizer=name)
                row = tuning_row(tuned, **keys, sigma_l1_over_l2=l1_over_l2(sigma))
                tuning.append(row)
                log.info("%s", row)
                runs.append(
                    pd.DataFrame({**keys, "run": np.arange(spec.runs), "steps": tuned.steps})
                )
    return pd.concat(runs, ignore_index=True), pd.DataFrame(tuning)


def write_dimensions(
    settings: NoiseDimensionSettings, *, out_runs: str | Path, out_tuning: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`run_dimensions` of ``settings``; the runs go to ``out_runs`` (parquet), the
    tuning to ``out_tuning`` (CSV)."""
    runs, tuning = run_dimensions(
        problem_spec(settings),
        settings.dims,
        step_size_grids(settings),
        settings.max_steps,
        settings.momentum,
        settings.widen,
    )
    write_runs_and_tuning(runs, tuning, out_runs, out_tuning)
    edge = tuning[tuning["at_edge"]]
    if len(edge):
        log.warning("%d step sizes still at their grid's edge after widening:\n%s", len(edge), edge)
    return runs, tuning


def write_runs_and_tuning(
    runs: pd.DataFrame, tuning: pd.DataFrame, out_runs: str | Path, out_tuning: str | Path
) -> None:
    """The runs as parquet and the tuning table as CSV, each written atomically."""
    with atomic_output(out_runs) as tmp:
        runs.to_parquet(tmp, index=False)
    write_table(tuning, out_tuning)


def runs_and_tuning_cli(
    settings_cls: type[NoiseSettings], write, argv: Sequence[str] | None
) -> None:
    """``write(settings, out_runs=..., out_tuning=...)`` of the command line ``argv``:
    ``settings_cls``'s ``--settings`` and flags, ``--out-runs`` and ``--out-tuning``."""
    doc = sys.modules[write.__module__].__doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    settings_cls.add_arguments(parser)
    parser.add_argument("--out-runs", type=Path, required=True)
    parser.add_argument("--out-tuning", type=Path, required=True)
    args = parser.parse_args(argv)
    write(settings_cls.from_args(args), out_runs=args.out_runs, out_tuning=args.out_tuning)


def main(argv: Sequence[str] | None = None) -> None:
    runs_and_tuning_cli(NoiseDimensionSettings, write_dimensions, argv)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
