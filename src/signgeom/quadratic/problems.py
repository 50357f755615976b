"""The stochastic stages' problems: one quadratic per dimension, its starts, targets and noise.

``H = R^theta Lambda (R^theta)^T`` from :func:`signgeom.quadratic.hessians.hessian_for_cell`
(spectrum family at ``lambda_max / lambda_bar = lambda_ratio``, the first rotation draw of the
base seed), starts ``x0 ~ N(0, I)``, and per run the target
``||grad f(x_t)||_1 <= target_fraction * ||grad f(x_0)||_1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from signgeom.quadratic.hessians import hessian_for_cell, rotation_seeds
from signgeom.quadratic.noise import GEOMETRIES, noise_scales
from signgeom.quadratic.settings import NoiseSettings
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


def problem_spec(settings: NoiseSettings) -> ProblemSpec:
    """The problem of ``settings`` (its fields of the same names)."""
    return ProblemSpec(**{f: getattr(settings, f) for f in ProblemSpec.__dataclass_fields__})


def step_size_grids(settings: NoiseSettings) -> dict[str, np.ndarray]:
    """``{optimizer: log-spaced grid}`` of ``settings.step_sizes`` (``{min, max, num}`` each)."""
    return {
        name: log_grid(float(g["min"]), float(g["max"]), int(g["num"]))
        for name, g in settings.step_sizes.items()
    }
