"""Hessians ``H = R^theta Lambda (R^theta)^T`` on a grid of rotation and eigenvalue ratio.

``R`` is Haar-distributed on SO(d); ``R^theta`` is its principal fractional power, computed
from the real Schur form ``R = Q T Q^T``: ``T`` is block diagonal with 2x2 rotations by
``phi in (-pi, pi)`` and 1x1 blocks ``+1``, and ``R^theta = Q T^theta Q^T`` rotates each block by
``theta * phi``. Hence ``R^0 = I``, ``R^1 = R``, ``R^theta`` is orthogonal, and ``H`` has exactly
the spectrum ``Lambda``.

The spectrum comes from a *family* (registry :data:`SPECTRUM_FAMILIES`, config key
``quadratic.families``) that maps the y-axis value ``r = lambda_max / lambda_bar`` and ``d`` to the
eigenvalues, with ``max / mean = r`` exactly. Since ``mean >= max / d``, ``r <= d`` always; each
family has its own feasible range and refuses other ratios with a ``ValueError``:

* ``one_outlier`` (the paper): ``(1, ..., 1, lambda_max)``, ``lambda_max = r (d-1)/(d-r)``;
  ``1 <= r < d``.
* ``two_outliers``, ``three_outliers``: ``k`` equal outliers at 1 above a flat bulk at
  ``b = (d/r - k)/(d - k)``; ``1 <= r <= d/k`` (the bulk is 0 at ``r = d/k``).
* ``power_law``: ``lambda_i = i^-alpha`` (``i = 1..d``), ``alpha >= 0`` solved for ``r``;
  ``1 <= r < d``.
* ``bulk_outliers``: ``(1 - t) 1 + t u``, the flat spectrum moved towards a network-like shape
  ``u`` (outliers 1 and 1/2, a bulk spread evenly over ``[0, 0.1]``) with
  ``t = (1 - 1/r)/(1 - mean(u))``; ``1 <= r <= 1/mean(u)`` (6 at ``d = 12``).

A new family is one function ``f(ratio, dim)`` and one registry entry.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.optimize
from scipy.stats import special_ortho_group

from signgeom.cli import run_cli
from signgeom.io import atomic_output
from signgeom.quadratic.settings import GridSettings

log = logging.getLogger(__name__)


def haar_rotation(dim: int, seed: int) -> np.ndarray:
    """A Haar-distributed rotation in SO(dim), reproducible from ``seed``."""
    return special_ortho_group.rvs(dim, random_state=np.random.default_rng(seed))


def fractional_rotation(rotation: np.ndarray, theta: float) -> np.ndarray:
    """Principal power ``R^theta`` of a rotation matrix ``R`` (see the module docstring)."""
    if theta == 0.0:
        return np.eye(rotation.shape[0])
    t, q = scipy.linalg.schur(rotation, output="real")
    t_theta = np.zeros_like(t)
    i, d = 0, t.shape[0]
    while i < d:
        if i + 1 < d and abs(t[i + 1, i]) > 1e-12:
            phi = np.arctan2(t[i + 1, i], t[i, i])
            c, s = np.cos(theta * phi), np.sin(theta * phi)
            t_theta[i : i + 2, i : i + 2] = [[c, -s], [s, c]]
            i += 2
        else:
            if t[i, i] < 0:
                raise ValueError("rotation has an eigenvalue -1: its principal power is ambiguous")
            t_theta[i, i] = 1.0
            i += 1
    return q @ t_theta @ q.T


def lambda_max_for_ratio(ratio: float | np.ndarray, dim: int) -> np.ndarray:
    """``lambda_max`` such that ``diag(1, ..., 1, lambda_max)`` has ``lambda_max/lambda_bar = r``.

    ``lambda_bar = (d - 1 + lambda_max)/d`` gives ``lambda_max = ratio (d - 1)/(d - ratio)``,
    defined for ``1 <= ratio < d``.
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    if np.any(ratio < 1) or np.any(ratio >= dim):
        raise ValueError(f"lambda_max/lambda_bar must lie in [1, d) = [1, {dim}), got {ratio}")
    return ratio * (dim - 1) / (dim - ratio)


def one_outlier_spectrum(ratio: float, dim: int) -> np.ndarray:
    """The paper's family: eigenvalues ``(1, ..., 1, lambda_max)`` with ``lambda_max/lambda_bar =
    ratio``; ``1 <= ratio < d``."""
    _check_ratio(ratio, dim, float(dim), closed=False)
    eig = np.ones(dim)
    eig[-1] = float(lambda_max_for_ratio(ratio, dim))
    return eig


def _check_ratio(ratio: float, dim: int, upper: float, closed: bool) -> None:
    """Raise unless ``1 <= ratio <= upper`` (``< upper`` unless ``closed``), naming the range."""
    if ratio >= 1 and (ratio <= upper if closed else ratio < upper):
        return
    bracket = "]" if closed else ")"
    raise ValueError(
        f"lambda_max/lambda_bar = {ratio:g} is infeasible at d = {dim}; "
        f"the feasible range is [1, {upper:.6g}{bracket}"
    )


def mixture_spectrum(ratio: float, dim: int, shape: np.ndarray) -> np.ndarray:
    """``(1 - t) 1 + t u`` for a shape ``u`` in ``[0, 1]`` with ``max u = 1``, mean ``mu``.

    The maximum stays 1 and the mean is ``1 - t (1 - mu)``, so ``t = (1 - 1/r)/(1 - mu)`` gives
    ``max/mean = r`` in closed form, for ``1 <= r <= 1/mu`` (``t = 1``: the shape itself).
    """
    shape = np.sort(np.asarray(shape, dtype=np.float64))
    mu = float(shape.mean())
    _check_ratio(ratio, dim, dim / float(shape.sum()), closed=True)
    t = min(1.0, (1.0 - 1.0 / ratio) / (1.0 - mu))
    return (1.0 - t) + t * shape


def k_outliers_spectrum(ratio: float, dim: int, k: int) -> np.ndarray:
    """``k`` equal outliers at 1 above a flat bulk ``b = (d/r - k)/(d - k)``: ``1 <= r <= d/k``."""
    if not 1 <= k < dim:
        raise ValueError(f"k outliers need 1 <= k < d = {dim}, got k = {k}")
    shape = np.concatenate([np.zeros(dim - k), np.ones(k)])
    return mixture_spectrum(ratio, dim, shape)


def bulk_outliers_spectrum(ratio: float, dim: int) -> np.ndarray:
    """Outliers 1 and 1/2 above a bulk spread evenly over ``[0, 0.1]``, mixed with the flat
    spectrum (see :func:`mixture_spectrum`); ``1 <= r <= 1/mean(u)``."""
    if dim < 3:
        raise ValueError(f"spectrum family 'bulk_outliers' needs d >= 3, got d = {dim}")
    shape = np.concatenate([np.linspace(0.0, 0.1, dim - 2), [0.5, 1.0]])
    return mixture_spectrum(ratio, dim, shape)


def power_law_spectrum(ratio: float, dim: int) -> np.ndarray:
    """``lambda_i = i^-alpha``, ``i = 1..d``: ``max/mean = d / sum_i i^-alpha`` grows from 1
    (``alpha = 0``) towards ``d`` (``alpha -> inf``); ``alpha`` is the root for ``ratio``."""
    _check_ratio(ratio, dim, float(dim), closed=False)
    i = np.arange(1, dim + 1, dtype=np.float64)
    if ratio == 1.0:
        return np.ones(dim)

    def excess(alpha: float) -> float:  # increasing in alpha
        return dim / np.sum(i**-alpha) - ratio

    hi = 1.0
    while excess(hi) <= 0:
        hi *= 2.0
    alpha = scipy.optimize.brentq(excess, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    return np.sort(i**-alpha)


SPECTRUM_FAMILIES: dict[str, Callable[[float, int], np.ndarray]] = {
    "one_outlier": one_outlier_spectrum,
    "two_outliers": partial(k_outliers_spectrum, k=2),
    "three_outliers": partial(k_outliers_spectrum, k=3),
    "power_law": power_law_spectrum,
    "bulk_outliers": bulk_outliers_spectrum,
}
"""Spectrum families: ``name -> f(ratio, dim)`` returning ``dim`` eigenvalues, ascending, with
``max / mean = ratio``."""


IDENTITY_PLUS_RANK: dict[str, int] = {"one_outlier": 1, "two_outliers": 2, "three_outliers": 3}
"""Families whose Hessians are a scaled identity plus rank ``k`` by construction: the spectrum
is a flat bulk ``c`` (its smallest eigenvalue) and ``k`` eigenvalues above it, so
``H = c I + Q_k diag(top - c) Q_k^T`` (:func:`rotated_hessian`) and ``L_inf`` has the exact
polynomial path :mod:`signgeom.linf.structure`."""


def identity_plus_rank_structure(
    family: str, eigenvalues: np.ndarray
) -> tuple[float, np.ndarray] | None:
    """``(c, top)`` of a Hessian of ``family`` with these ascending ``eigenvalues`` when the
    family is a scaled identity plus rank ``k`` (:data:`IDENTITY_PLUS_RANK`), else ``None``."""
    k = IDENTITY_PLUS_RANK.get(family)
    if k is None:
        return None
    eig = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    return float(eig[0]), eig[-k:]


def family_spectrum(family: str, ratio: float, dim: int) -> np.ndarray:
    """Eigenvalues of ``family`` at ``lambda_max / lambda_bar = ratio``."""
    if family not in SPECTRUM_FAMILIES:
        raise ValueError(
            f"quadratic.families: unknown spectrum family {family!r}; "
            f"known: {sorted(SPECTRUM_FAMILIES)}"
        )
    try:
        eig = SPECTRUM_FAMILIES[family](ratio, dim)
    except ValueError as err:
        raise ValueError(f"spectrum family {family!r}: {err}") from None
    return np.sort(eig)


def rotated_hessian(rotation_power: np.ndarray, eigenvalues: np.ndarray) -> np.ndarray:
    """``H = Q diag(lambda) Q^T`` for orthogonal ``Q``, exactly symmetric.

    Written as ``c I + Q diag(lambda - c) Q^T`` with ``c = min(lambda)``: equal in exact
    arithmetic, but a scalar spectrum gives exactly ``c I`` (GD then converges in one step).
    """
    c = float(np.min(eigenvalues))
    q = rotation_power
    h = c * np.eye(q.shape[0]) + (q * (eigenvalues - c)) @ q.T
    return 0.5 * (h + h.T)


def rotation_seeds(seed: int, count: int) -> np.ndarray:
    """Independent per-rotation seeds derived from the base seed (recorded with the Hessians)."""
    return np.random.SeedSequence(seed).generate_state(count).astype(np.int64)


def hessian_for_cell(
    theta: float, ratio: float, dim: int, rotation_seed: int, family: str = "one_outlier"
) -> np.ndarray:
    """Recompute the Hessian of one grid cell and one rotation draw from its coordinates."""
    power = fractional_rotation(haar_rotation(dim, rotation_seed), theta)
    return rotated_hessian(power, family_spectrum(family, ratio, dim))


@dataclass(frozen=True)
class HessianGrid:
    """Hessians on the (theta, ratio) grid: ``hessians[i, j, k]`` is cell ``(thetas[i],
    ratios[j])`` with rotation draw ``k`` (seed ``rotation_seeds[k]``)."""

    thetas: np.ndarray
    ratios: np.ndarray
    eigenvalues: np.ndarray  # (n_ratio, d): the spectrum of every Hessian in a ratio row
    rotation_seeds: np.ndarray
    hessians: np.ndarray

    @property
    def lambda_max(self) -> np.ndarray:
        return self.eigenvalues[:, -1]

    @property
    def dim(self) -> int:
        return int(self.hessians.shape[-1])

    def save(self, path: str | Path) -> None:
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **self.__dict__)

    @classmethod
    def load(cls, path: str | Path) -> HessianGrid:
        try:
            with np.load(path) as data:
                return cls(**{name: data[name] for name in cls.__dataclass_fields__})
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f"{path}: not a valid Hessian grid file ({err})") from err


def build_grid(
    dim: int,
    thetas: np.ndarray,
    ratios: np.ndarray,
    rotations: int,
    seed: int,
    family: str = "one_outlier",
) -> HessianGrid:
    """All Hessians of the grid. The same rotation draws are used in every cell (common random
    numbers), so neighbouring cells differ only by ``theta`` and ``ratio``."""
    seeds = rotation_seeds(seed, rotations)
    eig = np.array([np.sort(family_spectrum(family, float(r), dim)) for r in ratios])
    hessians = np.empty((len(thetas), len(ratios), rotations, dim, dim))
    for k, rot_seed in enumerate(seeds):
        rotation = haar_rotation(dim, int(rot_seed))
        for i, theta in enumerate(thetas):
            power = fractional_rotation(rotation, float(theta))
            for j in range(len(ratios)):
                hessians[i, j, k] = rotated_hessian(power, eig[j])
    return HessianGrid(np.asarray(thetas, float), np.asarray(ratios, float), eig, seeds, hessians)


def check_spectra(grid: HessianGrid, rtol: float = 1e-10) -> None:
    """Raise if any Hessian is not symmetric PSD with the prescribed spectrum."""
    h = grid.hessians
    if not np.array_equal(h, np.swapaxes(h, -1, -2)):
        raise ValueError("a Hessian is not symmetric")
    eig = np.linalg.eigvalsh(h)
    expected = grid.eigenvalues[None, :, None, :]
    scale = rtol * np.abs(grid.eigenvalues).max()
    if not np.allclose(eig, expected, rtol=rtol, atol=scale) or eig.min() < -scale:
        raise ValueError("a Hessian does not have the prescribed spectrum or is not PSD")


def grid_axes(settings: GridSettings) -> tuple[np.ndarray, np.ndarray]:
    """The grid's ``(thetas, ratios)``: evenly spaced from ``*_min`` to ``*_max``, ``*_num``."""
    thetas = np.linspace(settings.theta_min, settings.theta_max, settings.theta_num)
    ratios = np.linspace(settings.ratio_min, settings.ratio_max, settings.ratio_num)
    return thetas, ratios


def write_grid(settings: GridSettings, out: str | Path) -> HessianGrid:
    """Build the grid of ``settings``, check every spectrum and save it to ``out``."""
    thetas, ratios = grid_axes(settings)
    log.info(
        "building %d x %d cells x %d rotations, d = %d, family %s",
        len(thetas),
        len(ratios),
        settings.rotations,
        settings.dim,
        settings.family,
    )
    grid = build_grid(
        settings.dim, thetas, ratios, settings.rotations, settings.seed, settings.family
    )
    check_spectra(grid)
    grid.save(out)
    log.info("wrote %s", out)
    return grid


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    GridSettings.add_arguments(parser)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    write_grid(GridSettings.from_args(args), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
