"""Stochastic first-order methods on ``f(x) = 1/2 x^T H x`` with separable noise, batched.

A batch is ``C`` step sizes x ``R`` runs: iterates ``x`` of shape ``(C, R, d)``, the runs'
starts ``x0`` shared by every step size, and the same noise draw ``xi_t`` (shape ``(R, d)``) at
step ``t`` for every step size (common random numbers). With ``g = H x`` and
``g~ = g + xi`` (``xi = sigma * z``, see :mod:`signgeom.quadratic.noise`):

* ``sgd``: ``x+ = x - lr g~``; with ``M`` workers ``g~`` averages ``M`` independent draws.
* ``sign``: ``x+ = x - lr sign(g~)``.
* ``vote``: ``x+ = x - lr sign(sum_m sign(g + xi_m))``, the majority vote of ``M`` workers
  (sampled exactly, see :func:`majority_vote`).
* ``sign_l1``: ``x+ = x - lr ||g~||_1 sign(g~)``, the paper's signGD (Figure 2 with
  ``lr = 1/L_inf``), kept so that zero noise reproduces :mod:`signgeom.quadratic.runs`.

Heavy-ball momentum ``beta > 0`` (``sgd`` and ``sign``): ``m+ = beta m + g~`` replaces ``g~`` in
the update (``sign`` with momentum is signum). Steps are applied as ``x - u / inv_lr`` with
``inv_lr = 1 / lr``, the form of :func:`signgeom.quadratic.runs.gd_step`, so that zero noise and
``inv_lr = L_2`` give GD's iterates bit for bit.

The steps to the target of a run are the first ``t`` with ``||grad f(x_t)||_1 <= target``
(equivalently ``min_{s <= t} ||grad f(x_s)||_1 <= target``); ``-1`` if not reached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from signgeom.quadratic.noise import NoiseDistribution

RULES = ("sgd", "sign", "vote", "sign_l1")

OPTIMIZERS: dict[str, tuple[str, bool]] = {
    "sgd": ("sgd", False),
    "sgd_momentum": ("sgd", True),
    "signsgd": ("sign", False),
    "signsgd_momentum": ("sign", True),
}
"""Part 1's optimizers: name -> (update rule, heavy-ball momentum)."""


@dataclass(frozen=True)
class Quadratic:
    """``f(x) = 1/2 x^T H x``; a diagonal ``H`` takes the elementwise gradient path."""

    hessian: np.ndarray

    @property
    def diagonal(self) -> np.ndarray | None:
        h = self.hessian
        diag = np.diagonal(h)
        return diag.copy() if np.array_equal(h, np.diag(diag)) else None

    def gradient_fn(self) -> Callable[[np.ndarray], np.ndarray]:
        """``x -> H x`` for ``x`` of shape ``(..., d)`` (``H`` symmetric)."""
        diag = self.diagonal
        if diag is not None:
            return lambda x: x * diag
        h = self.hessian
        return lambda x: x @ h


def majority_vote(
    g: np.ndarray,
    sigma: np.ndarray,
    dist: NoiseDistribution,
    workers: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``sign(sum_m sign(g + sigma z_m))`` over ``workers`` independent draws, sampled exactly.

    Each worker's sign is ``+1`` with probability ``p = P(z > -g/sigma) = 1 - F(-g/sigma)``,
    so the number of ``+1`` votes is ``Binomial(M, p)``; a tie (even ``M``) gives 0. Noise-free
    coordinates (``sigma_i = 0``) vote ``sign(g_i)``.
    """
    noisy = sigma > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 1.0 - dist.cdf(np.where(noisy, -g / np.where(noisy, sigma, 1.0), 0.0))
    ups = rng.binomial(workers, np.clip(np.nan_to_num(p, nan=0.5), 0.0, 1.0))  # nan: diverged
    return np.where(noisy, np.sign(2 * ups - workers), np.sign(g)).astype(float)


def majority_vote_explicit(
    g: np.ndarray,
    sigma: np.ndarray,
    dist: NoiseDistribution,
    workers: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The same vote from ``workers`` explicit noise draws (a reference for tests)."""
    z = dist.sample(rng, (workers, *np.shape(g)))
    return np.sign(np.sign(g + sigma * z).sum(axis=0))


@dataclass
class BatchResult:
    """``steps (C, R)``: steps to the target (-1: not reached); ``x (C, R, d)``: last iterates."""

    steps: np.ndarray
    x: np.ndarray


def run_batch(
    problem: Quadratic,
    x0: np.ndarray,
    inv_lr: np.ndarray,
    rule: str,
    max_steps: int,
    sigma: np.ndarray,
    dist: NoiseDistribution,
    rng: np.random.Generator,
    target: np.ndarray | None = None,
    momentum: float = 0.0,
    workers: int = 1,
) -> BatchResult:
    """Run ``len(inv_lr)`` step sizes x ``len(x0)`` runs for at most ``max_steps`` steps.

    ``target (R,)``: per-run threshold on ``||H x_t||_1``; the batch stops once every run
    reached it (``None``: run all ``max_steps``).
    """
    if rule not in RULES:
        raise ValueError(f"unknown update rule {rule!r}; known: {RULES}")
    if momentum and (rule == "vote" or rule == "sign_l1"):
        raise ValueError(f"rule {rule!r} has no momentum variant")
    if workers > 1 and rule in ("sign", "sign_l1"):
        raise ValueError(f"rule {rule!r} is one worker's; use 'vote' for {workers} workers")
    grad = problem.gradient_fn()
    inv = np.asarray(inv_lr, dtype=float)[:, None, None]
    x = np.broadcast_to(x0, (len(inv), *x0.shape)).copy()
    m = np.zeros_like(x) if momentum else None
    steps = np.full(x.shape[:2], -1, dtype=np.int64)
    noisy = bool(np.any(sigma > 0))
    with np.errstate(over="ignore", invalid="ignore"):  # a too-large step size diverges
        for t in range(max_steps + 1):
            g = grad(x)
            if target is not None:
                newly = (steps < 0) & (np.abs(g).sum(axis=-1) <= target)
                steps[newly] = t
                if np.all(steps >= 0):
                    break
            if t == max_steps:
                break
            if rule == "vote":
                x = x - majority_vote(g, sigma, dist, workers, rng) / inv
                continue
            if noisy:
                if workers > 1:
                    z = dist.sample_mean(rng, workers, x0.shape)
                else:
                    z = dist.sample(rng, x0.shape)
                g = g + sigma * z
            if m is not None:
                m = momentum * m + g
                g = m
            if rule == "sgd":
                x = x - g / inv
            elif rule == "sign":
                x = x - np.sign(g) / inv
            else:
                x = x - (np.abs(g).sum(axis=-1, keepdims=True) / inv) * np.sign(g)
    return BatchResult(steps, x)


def steps_for(
    lrs: np.ndarray,
    problem: Quadratic,
    x0: np.ndarray,
    rule: str,
    max_steps: int,
    sigma: np.ndarray,
    dist: NoiseDistribution,
    make_rng: Callable[[], np.random.Generator],
    target: np.ndarray,
    momentum: float = 0.0,
    workers: int = 1,
) -> np.ndarray:
    """Steps to the target ``(len(lrs), R)`` at step sizes ``lrs``, with a fresh noise stream
    from ``make_rng`` (the same draws for every call: common random numbers)."""
    return run_batch(
        problem,
        x0,
        1.0 / np.asarray(lrs),
        rule,
        max_steps,
        sigma,
        dist,
        make_rng(),
        target,
        momentum,
        workers,
    ).steps


def log_grid(lo: float, hi: float, num: int) -> np.ndarray:
    """``num`` log-spaced step sizes from ``lo`` to ``hi``."""
    return np.logspace(np.log10(lo), np.log10(hi), num)


@dataclass
class Tuned:
    """The chosen constant step size and its runs' steps to the target (``inf``: not reached)."""

    lr: float
    steps: np.ndarray
    grid: np.ndarray
    scores: np.ndarray
    widenings: int

    @property
    def index(self) -> int:
        return int(np.flatnonzero(self.grid == self.lr)[0])

    @property
    def at_edge(self) -> bool:
        """The choice is the grid's first or last point (after any widening) and some run reached
        the target (where none did, no step size is better than another: ``reached`` is 0)."""
        return self.reached > 0 and self.index in (0, len(self.grid) - 1)

    @property
    def reached(self) -> float:
        return float(np.isfinite(self.steps).mean())


def median_steps(steps: np.ndarray) -> np.ndarray:
    """Median over runs (last axis); runs that did not reach the target count as ``inf``."""
    return np.median(np.where(steps < 0, np.inf, steps).astype(float), axis=-1)


def tune_step_size(
    evaluate: Callable[[np.ndarray], np.ndarray],
    grid: np.ndarray,
    widen: int,
    extend_by: int = 2,
) -> Tuned:
    """The step size of ``grid`` with the fewest median steps; widened at an edge.

    ``evaluate(lrs) -> steps (len(lrs), R)``. Step sizes are ranked by median steps, then (where
    the median is not reached) by the fraction of runs that reached the target; ties go to the
    smaller step size. While the best point is the grid's first or last and fewer than ``widen``
    extensions were made, ``extend_by`` more points of the same log spacing are evaluated beyond
    that edge.
    """
    grid = np.sort(np.asarray(grid, dtype=float))
    if len(grid) < 2:
        raise ValueError("a step-size grid needs at least 2 points")
    ratio = grid[1] / grid[0]
    steps = evaluate(grid)
    widenings = 0
    while True:
        scores = median_steps(steps)
        best = int(np.lexsort((-(steps >= 0).mean(axis=-1), scores))[0])
        edge = best in (0, len(grid) - 1) and np.any(steps[best] >= 0)
        if not edge or widenings >= widen:
            break
        if best == 0:
            new = grid[0] * ratio ** -np.arange(extend_by, 0, -1, dtype=float)
            steps = np.concatenate([evaluate(new), steps])
            grid = np.concatenate([new, grid])
        else:
            new = grid[-1] * ratio ** np.arange(1, extend_by + 1, dtype=float)
            steps = np.concatenate([steps, evaluate(new)])
            grid = np.concatenate([grid, new])
        widenings += 1
    chosen = np.where(steps[best] < 0, np.inf, steps[best]).astype(float)
    return Tuned(float(grid[best]), chosen, grid, scores, widenings)


def bootstrap_medians(steps: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Medians over resampled runs: ``steps (k, R)`` -> ``(resamples, k)``, the same run indices
    for all ``k`` rows (paired runs share starts and noise)."""
    idx = rng.integers(0, steps.shape[-1], size=(resamples, steps.shape[-1]))
    return np.median(steps[:, idx], axis=-1).T
