"""Proposition 5 over the Figure 2 grid: separable smoothness ``L_sep`` and the bound chain.

``L_sep(H) = min sum_i l_i  s.t.  diag(l) - H >= 0`` (PSD) is a small SDP. Its dual is
``max <H, Z>  s.t.  Z >= 0, diag(Z) = 1``, the SDP relaxation of
``max_{s in {-1,1}^d} s^T H s = ||H||_{inf,1}`` (PSD ``H``), so Prop. 5 and Nesterov's
``pi/2`` theorem give, for PSD ``H``::

    L_2 <= L_inf <= L_sep <= min(prop3_bound, pi/2 L_inf)

It is solved as one parametrised (DPP) cvxpy problem, compiled once and re-solved for every
Hessian. Each solution is certified: the primal ``l`` is shifted by ``max(0, -lambda_min(diag(l)
- H))`` so it is exactly feasible (``Lsep`` is then a valid upper bound, and ``L_inf <= Lsep``
holds without tolerance), and the dual ``Z`` is projected onto the PSD cone and rescaled to
``diag(Z) = 1``, so ``<H, Z>`` is a valid lower bound ``Lsep_lower``. The chain is checked on
every Hessian; the relative gap ``Lsep - Lsep_lower`` must stay below the tolerance.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import cvxpy as cp
import numpy as np
import pandas as pd

from signgeom.cli import run_cli
from signgeom.io import read_table, write_table
from signgeom.quadratic.constants import INDEX_COLUMNS
from signgeom.quadratic.hessians import HessianGrid
from signgeom.quadratic.settings import SeparableSettings

log = logging.getLogger(__name__)

SOLVERS = {"clarabel": cp.CLARABEL, "scs": cp.SCS}  # the names of SDP_SOLVERS

CHAIN = ("L2", "Linf", "Lsep", "prop3_bound")


class BoundChainError(ValueError):
    """A Hessian violates ``L_2 <= L_inf <= L_sep <= prop3_bound`` beyond the tolerance."""


class SeparableSolver:
    """``L_sep`` of ``d x d`` symmetric matrices: one compiled cvxpy problem for all of them.

    The problem holds ``batch`` independent copies (the objective is their sum, the KKT system
    block diagonal), so one solver call serves ``batch`` matrices and the per-call overhead of
    cvxpy and the solver is shared. The solver's stopping rule sees only the sum, so a matrix
    whose certified gap exceeds ``tol / 2`` is solved again on its own.
    """

    def __init__(self, dim: int, solver: str = "clarabel", tol: float = 1e-7, batch: int = 16):
        if solver not in SOLVERS:
            raise ValueError(f"unknown SDP solver {solver!r}; known: {sorted(SOLVERS)}")
        self.dim, self.solver, self.tol, self.batch = dim, solver, tol, batch
        self._h = [cp.Parameter((dim, dim), symmetric=True) for _ in range(batch)]
        self._l = cp.Variable((batch, dim))
        self._psd = [cp.diag(self._l[b]) - self._h[b] >> 0 for b in range(batch)]
        self._problem = cp.Problem(cp.Minimize(cp.sum(self._l)), self._psd)
        assert self._problem.is_dpp()

    def _options(self) -> dict:
        if self.solver == "clarabel":
            eps = 0.01 * self.tol
            return {"tol_gap_abs": eps, "tol_gap_rel": eps, "tol_feas": eps}
        return {"eps_abs": 0.01 * self.tol, "eps_rel": 0.01 * self.tol, "max_iters": 100_000}

    def solve(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(l, lower)`` for a stack ``h`` of shape ``(n, d, d)``: exactly feasible ``l[k]``
        (``diag(l[k]) >= H_k``) and dual lower bounds ``lower[k]`` on ``L_sep(H_k)``."""
        h = np.asarray(h, dtype=np.float64)
        h = 0.5 * (h + np.swapaxes(h, -1, -2))
        diag, lower = np.empty(h.shape[:2]), np.empty(len(h))
        for start in range(0, len(h), self.batch):
            chunk = h[start : start + self.batch]
            for b, param in enumerate(self._h):  # a short last chunk is padded with its last H
                param.value = chunk[min(b, len(chunk) - 1)]
            self._problem.solve(solver=SOLVERS[self.solver], **self._options())
            if self._problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
                raise ValueError(f"SDP solver {self.solver} returned status {self._problem.status}")
            for b, hk in enumerate(chunk):
                lk = np.asarray(self._l.value[b], dtype=np.float64)
                shift = np.linalg.eigvalsh(np.diag(lk) - hk)[0]
                diag[start + b] = lk + max(0.0, -shift)
                z = np.asarray(self._psd[b].dual_value, dtype=np.float64)
                lower[start + b] = dual_lower_bound(hk, z)
        loose = np.flatnonzero(diag.sum(axis=1) - lower > 0.5 * self.tol * diag.sum(axis=1))
        if self.batch > 1 and len(loose):
            log.info("%d of %d gaps above tol/2: solving them one by one", len(loose), len(h))
            single = SeparableSolver(self.dim, self.solver, self.tol, batch=1)
            diag[loose], lower[loose] = single.solve(h[loose])
        return diag, lower


def dual_lower_bound(h: np.ndarray, z: np.ndarray) -> float:
    """``<H, Z~>`` with ``Z~`` the PSD part of ``Z`` rescaled to unit diagonal: dual feasible, so
    a lower bound on ``L_sep`` (``-inf`` when the PSD part has a zero on its diagonal)."""
    mu, q = np.linalg.eigh(0.5 * (z + z.T))
    z_psd = (q * np.clip(mu, 0.0, None)) @ q.T
    scale = np.sqrt(np.diag(z_psd))
    if np.any(scale <= 0):
        return -np.inf
    return float(np.sum(h * (z_psd / np.outer(scale, scale))))


def separable_table(
    grid: HessianGrid, constants: pd.DataFrame, solver: str, tol: float
) -> pd.DataFrame:
    """``constants`` (one row per Hessian, C order) with ``Lsep``, ``Lsep_lower`` and the
    ratios ``lsep_over_linf``, ``prop3_over_linf``, ``prop3_over_lsep``."""
    flat = grid.hessians.reshape(-1, grid.dim, grid.dim)
    expected = np.arange(len(flat))
    order = np.ravel_multi_index(
        tuple(constants[c].to_numpy() for c in INDEX_COLUMNS), grid.hessians.shape[:3]
    )
    if len(constants) != len(flat) or not np.array_equal(order, expected):
        raise ValueError(
            f"constants table ({len(constants)} rows) does not match the Hessian grid "
            f"({len(flat)} Hessians in C order of {INDEX_COLUMNS})"
        )
    start = time.perf_counter()
    diag, lower = SeparableSolver(grid.dim, solver, tol).solve(flat)
    upper = diag.sum(axis=1)
    log.info("%d SDPs (%s) in %.1f s", len(flat), solver, time.perf_counter() - start)
    keep = [*INDEX_COLUMNS, "theta", "lambda_ratio", "lambda_max", "L2", "Linf", "prop3_bound"]
    table = constants[keep].copy()
    table["Lsep"] = upper
    table["Lsep_lower"] = lower
    table["lsep_over_linf"] = upper / table["Linf"]
    table["prop3_over_linf"] = table["prop3_bound"] / table["Linf"]
    table["prop3_over_lsep"] = table["prop3_bound"] / upper
    return table


def check_chain(table: pd.DataFrame, tol: float, rounding: float = 1e-9) -> None:
    """Raise :class:`BoundChainError` naming every Hessian (cell and rotation) that breaks
    ``L2 <= Linf <= Lsep <= prop3_bound`` or ``Lsep <= pi/2 Linf``, or whose certified gap
    ``(Lsep - Lsep_lower)/Lsep`` exceeds ``tol``.

    ``Linf <= Lsep`` and ``L2 <= Linf`` hold exactly up to floating-point ``rounding``;
    ``Lsep`` is an upper bound, so ``Lsep <= prop3_bound`` is checked on ``Lsep_lower`` and
    ``Lsep`` up to ``tol``.
    """
    checks = {
        "L2 <= Linf": table["L2"] <= table["Linf"] * (1 + rounding),
        "Linf <= Lsep": table["Linf"] <= table["Lsep"] * (1 + rounding),
        "Lsep <= prop3_bound": table["Lsep"] <= table["prop3_bound"] * (1 + tol),
        "Lsep <= pi/2 Linf": table["Lsep"] <= 0.5 * np.pi * table["Linf"] * (1 + tol),
        "Lsep gap <= tol": table["Lsep"] - table["Lsep_lower"] <= tol * table["Lsep"],
    }
    messages = []
    for name, ok in checks.items():
        for _, row in table[~ok.to_numpy()].head(5).iterrows():
            values = ", ".join(f"{c} = {row[c]:.12g}" for c in (*CHAIN, "Lsep_lower"))
            messages.append(
                f"{name} fails at theta = {row['theta']:g}, lambda_ratio = "
                f"{row['lambda_ratio']:g}, rotation {int(row['rotation'])}: {values}"
            )
        if (~ok).sum() > 5:
            messages.append(f"{name} fails on {int((~ok).sum())} Hessians in all")
    if messages:
        raise BoundChainError(
            f"bound chain violated (tolerance {tol:g}):\n  " + "\n  ".join(messages)
        )


def write_separable(
    settings: SeparableSettings, *, hessians: str | Path, constants: str | Path, out: str | Path
) -> pd.DataFrame:
    """:func:`separable_table` of the saved grid ``hessians`` and its ``constants``, checked
    by :func:`check_chain` and written to ``out``."""
    grid = HessianGrid.load(hessians)
    table = separable_table(grid, read_table(constants), settings.solver, settings.tol)
    check_chain(table, settings.tol)
    log.info(
        "bound chain holds on all %d Hessians; Lsep/Linf in [%.4f, %.4f], "
        "prop3_bound/Lsep in [%.4f, %.4f]",
        len(table),
        table["lsep_over_linf"].min(),
        table["lsep_over_linf"].max(),
        table["prop3_over_lsep"].min(),
        table["prop3_over_lsep"].max(),
    )
    write_table(table, out)
    log.info("wrote %d rows to %s", len(table), out)
    return table


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    SeparableSettings.add_arguments(parser)
    parser.add_argument("--hessians", type=Path, required=True)
    parser.add_argument("--constants", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    write_separable(
        SeparableSettings.from_args(args),
        hessians=args.hessians,
        constants=args.constants,
        out=args.out,
    )


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
