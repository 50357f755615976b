"""Separable gradient noise ``xi_i = sigma_i z_i``: per-coordinate scales and distributions.

Every ``z_i`` is independent with mean 0 and variance 1, so ``Var(xi_i) = sigma_i^2`` and
``E ||xi||_2^2 = ||sigma||_2^2``. Two geometries share ``||sigma||_2 = s sqrt(d)`` (``s`` is the
root-mean-square scale per coordinate, config key ``theory.noise.sigma_rms``):

* ``dense``: ``sigma_i = s`` for all ``i``; ``||sigma||_1 / ||sigma||_2 = sqrt(d)``.
* ``sparse``: ``k`` coordinates (a seeded random subset) with ``sigma_i = s sqrt(d/k)``, the others
  0; ``||sigma||_1 / ||sigma||_2 = sqrt(k)``.

Standardised distributions of ``z`` (registry :data:`NOISE_DISTRIBUTIONS`):

* ``gaussian``: ``N(0, 1)``, symmetric and unimodal (Bernstein et al.'s majority-vote condition).
* ``centred_exponential``: ``E - 1`` with ``E ~ Exp(1)``: mean 0, variance 1, skewed, median
  ``ln 2 - 1 ~ -0.307``. A sign vote is then biased: ``P(g + sigma z > 0) = 1/2`` at
  ``g = -sigma (ln 2 - 1)``, not at ``g = 0``.

Each distribution also samples the mean of ``M`` independent draws exactly (``N(0, 1/M)``;
``Gamma(M, 1)/M - 1``), for SGD averaging ``M`` workers' gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.special import ndtr

GEOMETRIES = ("dense", "sparse")


class NoiseDistribution(Protocol):
    """A standardised noise law (mean 0, variance 1)."""

    median: float

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray: ...

    def sample_mean(
        self, rng: np.random.Generator, workers: int, shape: tuple[int, ...]
    ) -> np.ndarray: ...

    def cdf(self, z: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Gaussian:
    """``z ~ N(0, 1)``."""

    median: float = 0.0

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.standard_normal(shape)

    def sample_mean(
        self, rng: np.random.Generator, workers: int, shape: tuple[int, ...]
    ) -> np.ndarray:
        return rng.standard_normal(shape) / np.sqrt(workers)

    def cdf(self, z: np.ndarray) -> np.ndarray:
        return ndtr(z)


@dataclass(frozen=True)
class CentredExponential:
    """``z = E - 1``, ``E ~ Exp(1)``: ``P(z <= t) = 1 - exp(-(t + 1))`` for ``t >= -1``."""

    median: float = float(np.log(2.0) - 1.0)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.standard_exponential(shape) - 1.0

    def sample_mean(
        self, rng: np.random.Generator, workers: int, shape: tuple[int, ...]
    ) -> np.ndarray:
        return rng.standard_gamma(workers, shape) / workers - 1.0

    def cdf(self, z: np.ndarray) -> np.ndarray:
        return -np.expm1(-np.maximum(np.asarray(z, dtype=float) + 1.0, 0.0))


NOISE_DISTRIBUTIONS: dict[str, NoiseDistribution] = {
    "gaussian": Gaussian(),
    "centred_exponential": CentredExponential(),
}
"""Standardised noise laws by config name (``theory.majority_vote.distributions``)."""


def noise_distribution(name: str) -> NoiseDistribution:
    """The registered distribution ``name``, or a ``ValueError`` listing the known ones."""
    if name not in NOISE_DISTRIBUTIONS:
        raise ValueError(
            f"unknown noise distribution {name!r}; known: {sorted(NOISE_DISTRIBUTIONS)}"
        )
    return NOISE_DISTRIBUTIONS[name]


def noise_scales(geometry: str, dim: int, sigma_rms: float, sparse_k: int, seed: int) -> np.ndarray:
    """``sigma`` of length ``dim`` with ``||sigma||_2 = sigma_rms sqrt(dim)`` (module docstring)."""
    if geometry == "dense":
        return np.full(dim, float(sigma_rms))
    if geometry == "sparse":
        if not 1 <= sparse_k <= dim:
            raise ValueError(f"sparse noise needs 1 <= k <= d = {dim}, got k = {sparse_k}")
        sigma = np.zeros(dim)
        noisy = np.random.default_rng(np.random.SeedSequence([seed, 7, dim])).choice(
            dim, size=sparse_k, replace=False
        )
        sigma[noisy] = sigma_rms * np.sqrt(dim / sparse_k)
        return sigma
    raise ValueError(f"unknown noise geometry {geometry!r}; known: {list(GEOMETRIES)}")


def l1_over_l2(sigma: np.ndarray) -> float:
    """``||sigma||_1 / ||sigma||_2`` (``sqrt`` of the effective number of noisy coordinates)."""
    return float(np.abs(sigma).sum() / np.linalg.norm(sigma))
