"""The stochastic stages' problems: one quadratic per dimension, its starts, targets and noise.

``H = R^theta Lambda (R^theta)^T`` from :func:`signgeom.quadratic.hessians.hessian_for_cell`
(spectrum family at ``lambda_max / lambda_bar = lambda_ratio``, the first rotation draw of the
base seed), starts ``x0 ~ N(0, I)``, and per run the target
``||grad f(x_t)||_1 <= target_fraction * ||grad f(x_0)||_1``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from signgeom.quadratic.hessians import hessian_for_cell, rotation_seeds
from signgeom.quadratic.noise import GEOMETRIES, noise_scales
from signgeom.quadratic.stochastic import Quadratic, log_grid


@dataclass(frozen=True)
class ProblemSpec:
    """The settings of ``theory.noise`` (config.yaml documents each)."""

    family: str
    lambda_ratio: float
    theta: float
    sigma_rms: float
    sparse_k: int
    target_fraction: float
    runs: int
    seed: int

    def quadratic(self, dim: int) -> Quadratic:
        rot_seed = int(rotation_seeds(self.seed, 1)[0])
        return Quadratic(
            hessian_for_cell(self.theta, self.lambda_ratio, dim, rot_seed, self.family)
        )

    def starts(self, dim: int) -> np.ndarray:
        """``x0`` of shape ``(runs, dim)``, the same for every optimizer and noise."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 11, dim]))
        return rng.standard_normal((self.runs, dim))

    def targets(self, problem: Quadratic, x0: np.ndarray) -> np.ndarray:
        return self.target_fraction * np.abs(problem.gradient_fn()(x0)).sum(axis=-1)

    def sigma(self, geometry: str, dim: int) -> np.ndarray:
        return noise_scales(geometry, dim, self.sigma_rms, self.sparse_k, self.seed)

    def noise_rng(self, dim: int, geometry: str, *stream: int) -> np.random.Generator:
        """The noise stream of (dim, geometry, stream): re-created for every optimizer and step
        size, so they all see the same draws (common random numbers)."""
        key = [self.seed, 12, dim, GEOMETRIES.index(geometry), *stream]
        return np.random.default_rng(np.random.SeedSequence(key))


def add_problem_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``theory.noise`` flags shared by the stochastic stages."""
    parser.add_argument("--family", required=True)
    parser.add_argument("--lambda-ratio", type=float, required=True)
    parser.add_argument("--theta", type=float, required=True)
    parser.add_argument("--sigma-rms", type=float, required=True)
    parser.add_argument("--sparse-k", type=int, required=True)
    parser.add_argument("--target-fraction", type=float, required=True)
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--max-steps", type=int, required=True)
    parser.add_argument("--widen", type=int, required=True)
    parser.add_argument(
        "--grid",
        nargs=4,
        action="append",
        metavar=("OPTIMIZER", "MIN", "MAX", "NUM"),
        required=True,
        help="log-spaced step-size grid of one optimizer (repeat per optimizer)",
    )
    parser.add_argument("--seed", type=int, required=True)


def spec_from_args(args: argparse.Namespace) -> ProblemSpec:
    return ProblemSpec(
        args.family,
        args.lambda_ratio,
        args.theta,
        args.sigma_rms,
        args.sparse_k,
        args.target_fraction,
        args.runs,
        args.seed,
    )


def grids_from_args(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """``--grid NAME MIN MAX NUM`` -> ``{NAME: log-spaced grid}``."""
    return {name: log_grid(float(lo), float(hi), int(num)) for name, lo, hi, num in args.grid}
