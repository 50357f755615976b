"""GD, perturbed GD, signGD (with and without momentum) and rescaled GD through Du et al.'s
tube of saddles (:mod:`signgeom.quadratic.saddles`), unrotated and Haar-rotated, with exact
detection of periodic orbits (Bernstein et al. 2018, Sec. 6 and Figure 1).

Every optimizer runs on ``y`` for ``f_Q(y) = f(Q^T y)`` (``Q = I``: the unrotated tube, no
multiplication at all, so no rounding either), from ``y_0 = Q x_0``, ``x_0 ~ U[-r, r]^d``:

* ``gd``: ``y <- y - lr g``;
* ``pgd`` (Jin et al. 2017, without their stopping rule): when ``||g|| <= grad_threshold`` and
  more than ``interval`` steps have passed since the last perturbation, ``y <- y + xi`` with
  ``xi`` uniform in the ball of radius ``radius``, then a GD step from there;
* ``sign``: ``y <- y - lr sign(g)``;
* ``sign_momentum``: ``m <- beta m + g``, ``y <- y - lr sign(m)`` (the project's signSGD);
* ``rescaled``: ``y <- y - lr g / ||g||_2`` (noiseless Levy 2016).

**Periodic orbits.** The update of every method but ``pgd`` is a deterministic map of its state
(``y``, plus ``m`` for momentum). The bytes of every state are kept in a dict: the first state
that equals an earlier one *bit for bit* (step ``s`` then step ``t``) proves the orbit periodic
from ``s`` on with period ``t - s``, forever. The run then stops and its objective trace is
continued by repeating the cycle, which is exact. ``pgd`` draws random perturbations, so its
state never repeats in this sense; its ``periodic`` is False and ``period`` empty.

**Table** (one row per method x rotation; rotation 0 is the unrotated tube): ``escape_k``, the
first step whose iterate has active index ``> k`` (it has passed saddle ``k``; empty if never),
``saddles_passed``, ``final_objective`` (at step ``steps``), ``periodic``, ``period``,
``orbit_start``, ``orbit_saddle`` (active index on the orbit's first state; ``d + 1`` is the
minimum's region), ``orbit_distance`` (largest distance of an orbit state from that saddle,
mirrored to the orbit's orthant), ``outside_tube`` (iterates outside Du et al.'s domain, where
the extension of :mod:`signgeom.quadratic.saddles` is used).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.cli import run_cli
from signgeom.io import atomic_output, read_table
from signgeom.quadratic.hessians import haar_rotation, rotation_seeds
from signgeom.quadratic.saddles import Tube
from signgeom.quadratic.settings import SaddleRunsSettings

log = logging.getLogger(__name__)

METHODS = ("gd", "pgd", "sign", "sign_momentum", "rescaled")
"""The optimizers, in the order of the table and the figure."""


@dataclass(frozen=True)
class Perturbation:
    """Perturbed GD's settings: ball radius, gradient-norm threshold, steps between draws."""

    radius: float
    grad_threshold: float
    interval: int


@dataclass
class Run:
    """One trajectory: objective and active index per iterate (``steps + 1`` of each), the
    iterates outside the tube, and the orbit (``period`` 0: none found)."""

    objective: np.ndarray
    active: np.ndarray
    outside_tube: int
    period: int = 0
    orbit_start: int = -1
    orbit_saddle: int = 0
    orbit_distance: float = float("nan")


def nearest_critical_point(tube: Tube, x: np.ndarray, k: int) -> np.ndarray:
    """Saddle ``s_k`` (``k = d + 1``: the minimum) mirrored into the orthant of ``x``."""
    return tube.saddle(k) * np.where(x < 0, -1.0, 1.0)


def run_batch(
    tube: Tube,
    method: str,
    y0: np.ndarray,
    rotations: np.ndarray | None,
    lr: float,
    steps: int,
    momentum: float,
    perturbation: Perturbation,
    rngs: Sequence[np.random.Generator] | None = None,
) -> list[Run]:
    """``steps`` updates of ``method`` on ``f_Q`` from every row of ``y0`` (shape ``(n, d)``,
    in the optimizer's coordinates: ``Q x0`` for a start ``x0`` on the tube), with the
    rotations ``(n, d, d)`` (None: ``Q = I``, no multiplication). ``pgd`` needs one generator
    per row. A row whose state repeats is frozen there and continued by its cycle."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {list(METHODS)}")
    y = np.array(y0, dtype=np.float64, ndmin=2)
    n = y.shape[0]
    if method == "pgd" and (rngs is None or len(rngs) != n):
        raise ValueError("pgd needs one random generator per run")
    q = rotations

    def to_tube(v: np.ndarray) -> np.ndarray:  # x = Q^T y
        return v if q is None else np.matmul(v[:, None, :], q)[:, 0, :]

    def to_opt(v: np.ndarray) -> np.ndarray:  # Q g
        return v if q is None else np.matmul(q, v[:, :, None])[:, :, 0]

    m = np.zeros_like(y)
    objective = np.empty((n, steps + 1))
    active = np.empty((n, steps + 1), dtype=np.int64)
    seen: list[dict[bytes, int]] = [{} for _ in range(n)]
    xs = np.empty((n, steps + 1, tube.dim))
    cycles: dict[int, tuple[int, int]] = {}
    last_noise = np.full(n, -perturbation.interval - 1)
    for t in range(steps + 1):
        x = to_tube(y)
        f, g = tube.value_and_grad(x)
        objective[:, t], active[:, t], xs[:, t] = f, tube.active_index(x), x
        if method != "pgd":
            for r in range(n):
                if r in cycles:
                    continue
                key = y[r].tobytes() + (m[r].tobytes() if method == "sign_momentum" else b"")
                if key in seen[r]:
                    cycles[r] = (seen[r][key], t)
                else:
                    seen[r][key] = t
            if len(cycles) == n:
                break
        if t == steps:
            break
        gy = to_opt(g)
        if method == "gd":
            y = y - lr * gy
        elif method == "pgd":
            due = (np.linalg.norm(gy, axis=1) <= perturbation.grad_threshold) & (
                t - last_noise > perturbation.interval
            )
            if due.any():
                for r in np.flatnonzero(due):
                    y[r] = y[r] + _ball(rngs[r], tube.dim, perturbation.radius)
                last_noise[due] = t
                gy = to_opt(tube.value_and_grad(to_tube(y))[1])
            y = y - lr * gy
        elif method == "sign":
            y = y - lr * np.sign(gy)
        elif method == "sign_momentum":
            m = momentum * m + gy
            y = y - lr * np.sign(m)
        else:
            norm = np.linalg.norm(gy, axis=1, keepdims=True)
            y = y - lr * np.divide(gy, norm, out=np.zeros_like(gy), where=norm > 0)
    runs = []
    for r in range(n):
        if r in cycles:
            start, stop = cycles[r]
            runs.append(_periodic(tube, objective[r], active[r], xs[r], start, stop, steps))
        else:
            runs.append(Run(objective[r], active[r], int((~tube.in_tube(xs[r])).sum())))
    return runs


def _ball(rng: np.random.Generator, dim: int, radius: float) -> np.ndarray:
    """A point uniform in the ``dim``-ball of ``radius``."""
    v = rng.standard_normal(dim)
    return radius * rng.uniform() ** (1.0 / dim) * v / np.linalg.norm(v)


def _periodic(
    tube: Tube,
    objective: np.ndarray,
    active: np.ndarray,
    xs: np.ndarray,
    start: int,
    stop: int,
    steps: int,
) -> Run:
    """The run from an exact repeat ``state_stop == state_start``: the cycle continued to
    ``steps``, with the orbit's saddle and its largest distance from it."""
    period = stop - start
    later = np.arange(stop, steps + 1)
    source = start + (later - start) % period
    objective[stop:] = objective[source]
    active[stop:] = active[source]
    xs[stop:] = xs[source]
    outside = int((~tube.in_tube(xs)).sum())
    k = int(active[start])
    distance = max(
        float(np.linalg.norm(x - nearest_critical_point(tube, x, k))) for x in xs[start:stop]
    )
    return Run(objective, active, outside, period, start, k, distance)


def escape_steps(tube: Tube, active: np.ndarray) -> list[float]:
    """Per saddle ``k``: the first step with active index ``> k`` (NaN if never)."""
    return [
        float(np.argmax(active > k)) if (active > k).any() else float("nan")
        for k in range(1, tube.dim + 1)
    ]


def run_all(
    tube: Tube,
    step_sizes: dict[str, float],
    rotations: int,
    steps: int,
    seed: int,
    init_radius: float,
    momentum: float,
    perturbation: Perturbation,
) -> tuple[pd.DataFrame, dict[tuple[str, int], np.ndarray]]:
    """Every method of ``step_sizes`` on the unrotated tube (rotation 0) and ``rotations`` Haar
    rotations (1..R, seeds from :func:`rotation_seeds`). Returns the table and every objective
    trace keyed by ``(method, rotation)``."""
    x0 = np.random.default_rng([seed, 0]).uniform(-init_radius, init_radius, tube.dim)
    seeds = rotation_seeds(seed, rotations)
    haar = np.stack([haar_rotation(tube.dim, int(s)) for s in seeds]) if rotations else None
    starts = [x0[None, :]] + ([np.matmul(haar, x0[None, :, None])[:, :, 0]] if rotations else [])
    batches = [(None, starts[0])] + ([(haar, starts[1])] if rotations else [])
    rows, traces = [], {}
    for method in (m for m in METHODS if m in step_sizes):
        runs: list[Run] = []
        for q, y0 in batches:
            offset = len(runs)
            rngs = (
                [np.random.default_rng([seed, 1, offset + i]) for i in range(len(y0))]
                if method == "pgd"
                else None
            )
            runs += run_batch(
                tube, method, y0, q, step_sizes[method], steps, momentum, perturbation, rngs
            )
        for r, run in enumerate(runs):
            escapes = escape_steps(tube, run.active)
            rows.append(
                {
                    "method": method,
                    "rotation": r,
                    "rotation_seed": -1 if r == 0 else int(seeds[r - 1]),
                    "step_size": step_sizes[method],
                    **{f"escape_{k}": e for k, e in enumerate(escapes, start=1)},
                    "saddles_passed": int(run.active.max()) - 1,
                    "final_objective": float(run.objective[-1]),
                    "periodic": run.period > 0,
                    "period": run.period if run.period > 0 else np.nan,
                    "orbit_start": run.orbit_start if run.period > 0 else np.nan,
                    "orbit_saddle": run.orbit_saddle if run.period > 0 else np.nan,
                    "orbit_distance": run.orbit_distance,
                    "outside_tube": run.outside_tube,
                    "steps": steps,
                }
            )
            traces[(method, r)] = run.objective
        log.info("%s: %d runs, %d periodic", method, len(runs), sum(r.period > 0 for r in runs))
    return pd.DataFrame(rows), traces


def saddle_times(table: pd.DataFrame, dim: int) -> np.ndarray:
    """Per row, the steps spent at each saddle: ``escape_k - escape_{k-1}`` (``escape_0 = 0``;
    NaN where saddle ``k`` was not passed), shape ``(rows, d)``."""
    escapes = table[[f"escape_{k}" for k in range(1, dim + 1)]].to_numpy(dtype=float)
    return np.diff(np.concatenate([np.zeros((len(table), 1)), escapes], axis=1), axis=1)


def observations(table: pd.DataFrame, dim: int) -> dict[str, object]:
    """Bernstein et al.'s four observations, read from the table (signGD rows):

    * ``unrotated_times``: signGD's steps at each saddle of the unrotated tube (constant when it
      passes them unimpeded);
    * ``rotated_spread``: per Haar rotation, max - min of those steps (NaN where signGD did not
      pass every saddle);
    * ``caught``: ``{rotation: (period, saddle)}`` where signGD is on an exactly periodic
      orbit at a saddle;
    * ``momentum_passed``: ``{rotation: saddles passed}`` with momentum on those rotations.
    """
    sign = table[table["method"] == "sign"].set_index("rotation")
    times = pd.DataFrame(saddle_times(sign, dim), index=sign.index)
    caught = sign[caught_at_saddle(sign, dim)]
    momentum = table[table["method"] == "sign_momentum"].set_index("rotation")
    return {
        "unrotated_times": times.loc[0].to_numpy(),
        "rotated_spread": (times.max(axis=1, skipna=False) - times.min(axis=1, skipna=False)).drop(
            index=0
        ),
        "caught": {
            int(r): (int(row["period"]), int(row["orbit_saddle"])) for r, row in caught.iterrows()
        },
        "momentum_passed": {
            int(r): int(momentum.loc[r, "saddles_passed"])
            for r in caught.index
            if r in momentum.index
        },
    }


def caught_at_saddle(table: pd.DataFrame, dim: int) -> pd.Series:
    """Rows on an exactly periodic orbit at a saddle (not at the minimum)."""
    return table["periodic"].astype(bool) & (table["orbit_saddle"] <= dim)


def shown_rotations(table: pd.DataFrame, dim: int) -> dict[str, int]:
    """The rotations the figure shows: ``unrotated`` (0); ``rotated``, the first Haar rotation
    where signGD reaches the minimum; ``periodic``, the one where signGD is caught at the
    highest saddle (the first such; each left out if there is none)."""
    sign = table[(table["method"] == "sign") & (table["rotation"] > 0)]
    shown = {"unrotated": 0}
    free = sign[sign["saddles_passed"] == dim]
    caught = sign[caught_at_saddle(sign, dim)]
    if len(free):
        shown["rotated"] = int(free["rotation"].iloc[0])
    if len(caught):
        highest = caught[caught["orbit_saddle"] == caught["orbit_saddle"].max()]
        shown["periodic"] = int(highest["rotation"].iloc[0])
    return shown


def traces_frame(
    traces: dict[tuple[str, int], np.ndarray], rotations: Sequence[int]
) -> pd.DataFrame:
    """Long table ``method, rotation, step, objective`` of the given rotations."""
    parts = [
        pd.DataFrame(
            {"method": method, "rotation": r, "step": np.arange(len(obj)), "objective": obj}
        )
        for (method, r), obj in traces.items()
        if r in set(rotations)
    ]
    return pd.concat(parts, ignore_index=True)


def read_saddle_table(path: str | Path) -> pd.DataFrame:
    """The run table, checked for the columns the figure and tests use."""
    table = read_table(path)
    missing = {"method", "rotation", "final_objective", "periodic"} - set(table.columns)
    if missing:
        raise ValueError(f"{path}: not a saddle table (missing {sorted(missing)})")
    return table


def write_saddle_runs(
    settings: SaddleRunsSettings, *, out_table: str | Path, out_traces: str | Path
) -> pd.DataFrame:
    """:func:`run_all` of ``settings``; the table goes to ``out_table`` (CSV) and the traces of
    the rotations :func:`shown_rotations` picks to ``out_traces`` (parquet)."""
    if unknown := sorted(set(settings.step_sizes) - set(METHODS)):
        raise ValueError(f"saddles.step_sizes: unknown methods {unknown}; known: {list(METHODS)}")
    s = settings
    tube = Tube(s.dim, s.L, s.gamma, s.tau)
    table, traces = run_all(
        tube,
        s.step_sizes,
        s.rotations,
        s.steps,
        s.seed,
        s.init_radius,
        s.momentum,
        Perturbation(s.pgd_radius, s.pgd_grad_threshold, s.pgd_interval),
    )
    shown = shown_rotations(table, tube.dim)
    with atomic_output(out_table) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_output(out_traces) as tmp:
        traces_frame(traces, list(shown.values())).to_parquet(tmp, index=False)
    log.info("wrote %s and %s (rotations shown: %s)", out_table, out_traces, shown)
    return table


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    SaddleRunsSettings.add_arguments(parser)
    parser.add_argument("--out-table", type=Path, required=True)
    parser.add_argument("--out-traces", type=Path, required=True)
    args = parser.parse_args(argv)
    write_saddle_runs(
        SaddleRunsSettings.from_args(args), out_table=args.out_table, out_traces=args.out_traces
    )


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
