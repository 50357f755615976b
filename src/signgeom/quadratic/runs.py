"""GD and signGD on ``f(x) = 1/2 x^T H x`` (minimiser ``x* = 0``), vectorised over Hessians and
starting points.

* GD: ``x+ = x - g / L_2`` with ``g = H x``.
* signGD (steepest descent for the max-norm): ``x+ = x - (||g||_1 / L_inf) sign(g)``.

The distance to the minimiser after ``T`` steps, ``||x_T||_2``, is recorded per run.

Starting points ``x0 ~ N(0, I)`` (``quadratic.starts_per_rotation``):

* ``independent`` (default): rotation draw ``r`` has its own starts ``x0[r, k]``, seeded by
  ``(seed, r)``; a cell has ``rotations x starts`` distinct runs even where every rotation
  gives the same Hessian (``theta = 0``).
* ``shared``: every rotation reuses the same starts ``x0[k]`` (the original design).

Either way the same ``(rotation r, start k)`` draw is used in every cell (common random
numbers), and the starts of a rotation are a prefix-stable stream: raising ``starts`` keeps the
first ones.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.cli import run_cli
from signgeom.io import atomic_output, read_table
from signgeom.progress import logged
from signgeom.quadratic.constants import INDEX_COLUMNS
from signgeom.quadratic.hessians import HessianGrid
from signgeom.quadratic.settings import STARTS_PER_ROTATION, RunsSettings

log = logging.getLogger(__name__)


def gd_step(h: np.ndarray, x: np.ndarray, l2: np.ndarray) -> np.ndarray:
    """One GD step for a stack: ``h (n, d, d)``, ``x (n, r, d)``, ``l2 (n,)``."""
    return x - (x @ h) / l2[:, None, None]


def signgd_step(h: np.ndarray, x: np.ndarray, linf: np.ndarray) -> np.ndarray:
    """One signGD step: ``x - (||g||_1 / L_inf) sign(g)`` with ``g = H x`` (``H`` symmetric)."""
    g = x @ h
    step = np.abs(g).sum(axis=-1, keepdims=True) / linf[:, None, None]
    return x - step * np.sign(g)


def final_distances(
    h: np.ndarray, x0: np.ndarray, l2: np.ndarray, linf: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(||x_T^GD||_2, ||x_T^sign||_2)``, each of shape ``(n, r)``, after ``steps`` iterations."""
    x_gd = np.broadcast_to(x0, (h.shape[0], *x0.shape[-2:])).copy()
    x_sign = x_gd.copy()
    for _ in range(steps):
        x_gd = gd_step(h, x_gd, l2)
        x_sign = signgd_step(h, x_sign, linf)
    return np.linalg.norm(x_gd, axis=-1), np.linalg.norm(x_sign, axis=-1)


def starting_points(
    starts: int, dim: int, seed: int, rotations: int = 1, mode: str = "independent"
) -> np.ndarray:
    """``x0 ~ N(0, I)`` of shape ``(rotations, starts, dim)`` (see the module docstring)."""
    if mode == "shared":
        x0 = np.random.default_rng(np.random.SeedSequence([seed, 1])).standard_normal((starts, dim))
        return np.broadcast_to(x0, (rotations, starts, dim))
    if mode == "independent":
        return np.stack(
            [
                np.random.default_rng(np.random.SeedSequence([seed, 1, r])).standard_normal(
                    (starts, dim)
                )
                for r in range(rotations)
            ]
        )
    raise ValueError(
        f"quadratic.starts_per_rotation: unknown mode {mode!r}; use one of {STARTS_PER_ROTATION}"
    )


def run_grid(
    grid: HessianGrid,
    constants: pd.DataFrame,
    starts: int,
    steps: int,
    seed: int,
    starts_per_rotation: str = "independent",
    chunk: int = 512,
) -> pd.DataFrame:
    """Per-run table: one row per (Hessian, start) with both final distances."""
    flat = grid.hessians.reshape(-1, grid.dim, grid.dim)
    order = constants.sort_values(INDEX_COLUMNS)
    if len(order) != len(flat):
        raise ValueError(
            f"constants table has {len(order)} rows but the Hessian grid has {len(flat)}: "
            "they come from different configs; rerun the constants step"
        )
    l2 = order["L2"].to_numpy()
    linf = order["Linf"].to_numpy()
    rotation = order["rotation"].to_numpy()
    x0 = starting_points(starts, grid.dim, seed, grid.hessians.shape[2], starts_per_rotation)
    d_gd = np.empty((len(flat), starts))
    d_sign = np.empty((len(flat), starts))
    chunk_starts = range(0, len(flat), chunk)
    for s in logged(chunk_starts, len(chunk_starts), "GD/signGD runs", log, unit="chunk"):
        sl = slice(s, s + chunk)
        d_gd[sl], d_sign[sl] = final_distances(flat[sl], x0[rotation[sl]], l2[sl], linf[sl], steps)
    index = order[INDEX_COLUMNS + ["theta", "lambda_ratio"]].reset_index(drop=True)
    runs = index.loc[index.index.repeat(starts)].reset_index(drop=True)
    runs["start"] = np.tile(np.arange(starts), len(flat))
    runs["dist_gd"] = d_gd.ravel()
    runs["dist_sign"] = d_sign.ravel()
    return runs


def write_runs(
    settings: RunsSettings, *, hessians: str | Path, constants: str | Path, out: str | Path
) -> pd.DataFrame:
    """:func:`run_grid` on the saved grid ``hessians`` and its ``constants`` table; the runs
    are written to the parquet file ``out``."""
    runs = run_grid(
        HessianGrid.load(hessians),
        read_table(constants),
        settings.starts,
        settings.steps,
        settings.seed,
        settings.starts_per_rotation,
    )
    with atomic_output(out) as tmp:
        runs.to_parquet(tmp, index=False)
    log.info("wrote %d runs to %s", len(runs), out)
    return runs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    RunsSettings.add_arguments(parser)
    parser.add_argument("--hessians", type=Path, required=True)
    parser.add_argument("--constants", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    write_runs(
        RunsSettings.from_args(args), hessians=args.hessians, constants=args.constants, out=args.out
    )


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
