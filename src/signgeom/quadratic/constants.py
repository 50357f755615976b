"""Smoothness constants of every Hessian of the grid.

Per Hessian: ``L_2 = lambda_max(H)``, the exact ``L_inf = ||H||_{inf,1}``, ``rho_diag(H)`` and
the Prop. 3 bound ``rho_diag^-1 sum(lambda)``; one row per (theta, ratio, rotation). ``L_inf``
takes the PSD path ``max_s s^T H s`` for Hessians that pass the PSD check (column ``psd``) and
the general ``max_s ||H s||_1`` otherwise (:func:`signgeom.norms.exact_inf_to_one_norm`); a
family that is a scaled identity plus rank ``k`` by construction
(:data:`signgeom.quadratic.hessians.IDENTITY_PLUS_RANK`) takes the exact polynomial path
:func:`signgeom.linf.structure.identity_plus_rank_k` instead, at any ``d``. Above
``max_exact_dim`` every other (PSD) Hessian takes the branch and bound
(:func:`signgeom.linf.branch_and_bound.branch_and_bound`), whose answer must be certified
within :data:`CERTIFIED_TIME_LIMIT` seconds per Hessian.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.cli import run_cli
from signgeom.io import write_table
from signgeom.linf.branch_and_bound import branch_and_bound
from signgeom.linf.structure import identity_plus_rank_k
from signgeom.norms import exact_inf_to_one_norm, is_psd, lambda_max, prop3_bound, rho_diag
from signgeom.progress import logged
from signgeom.quadratic.hessians import (
    SPECTRUM_FAMILIES,
    HessianGrid,
    identity_plus_rank_structure,
)

log = logging.getLogger(__name__)

CERTIFIED_TIME_LIMIT = 900.0
"""Seconds the branch and bound may take per Hessian before the job fails."""

INDEX_COLUMNS = ["theta_index", "ratio_index", "rotation"]


def grid_index(grid: HessianGrid) -> pd.DataFrame:
    """One row per Hessian of the grid, in C order of ``grid.hessians[i, j, k]``."""
    n_theta, n_ratio, n_rot = grid.hessians.shape[:3]
    i, j, k = np.meshgrid(np.arange(n_theta), np.arange(n_ratio), np.arange(n_rot), indexing="ij")
    return pd.DataFrame(
        {
            "theta_index": i.ravel(),
            "ratio_index": j.ravel(),
            "rotation": k.ravel(),
            "theta": grid.thetas[i.ravel()],
            "lambda_ratio": grid.ratios[j.ravel()],
            "lambda_max": grid.lambda_max[j.ravel()],
            "rotation_seed": grid.rotation_seeds[k.ravel()],
        }
    )


def exact_linf(
    grid: HessianGrid, max_exact_dim: int, family: str | None = None, chunk: int = 256
) -> np.ndarray:
    """Exact ``L_inf`` of every Hessian of the grid (flat C order): by the identity-plus-rank-k
    structure when ``family`` has it, else by enumeration (``d <= max_exact_dim``) or by the
    certified branch and bound (larger ``d``)."""
    flat = grid.hessians.reshape(-1, grid.dim, grid.dim)
    linf = np.empty(len(flat))
    if family is not None and family not in SPECTRUM_FAMILIES:
        raise ValueError(
            f"--family: unknown spectrum family {family!r}; known: {sorted(SPECTRUM_FAMILIES)}"
        )
    if family is not None and identity_plus_rank_structure(family, grid.eigenvalues[0]):
        ratio_row = grid_index(grid)["ratio_index"].to_numpy()
        for n in logged(range(len(flat)), len(flat), "L_inf by structure", log, unit="Hessian"):
            c, top = identity_plus_rank_structure(family, grid.eigenvalues[ratio_row[n]])
            linf[n] = identity_plus_rank_k(flat[n], c, top).value
        return linf
    if grid.dim > max_exact_dim:
        return _certified_linf(flat)
    chunk_starts = range(0, len(flat), chunk)
    for start in logged(chunk_starts, len(chunk_starts), "exact L_inf", log, unit="chunk"):
        linf[start : start + chunk] = exact_inf_to_one_norm(
            flat[start : start + chunk], max_exact_dim
        )
    return linf


def _certified_linf(flat: np.ndarray) -> np.ndarray:
    """``L_inf`` of PSD Hessians ``(n, d, d)`` by the branch and bound, each certified."""
    if not is_psd(flat).all():
        raise ValueError(
            f"d = {flat.shape[-1]} exceeds quadratic.max_exact_dim and a Hessian is not PSD: the "
            "branch and bound computes max_s s^T H s, which is ||H||_inf,1 only for PSD H"
        )
    linf = np.empty(len(flat))
    for n in logged(range(len(flat)), len(flat), "L_inf by branch and bound", log, "Hessian"):
        result = branch_and_bound(flat[n], time_limit=CERTIFIED_TIME_LIMIT)
        if not result.certified:
            raise ValueError(
                f"L_inf of Hessian {n} (d = {flat.shape[-1]}) not certified within "
                f"{CERTIFIED_TIME_LIMIT:g} s: [{result.value}, {result.upper}]"
            )
        linf[n] = result.value
    return linf


def smoothness_constants(
    grid: HessianGrid, max_exact_dim: int, family: str | None = None
) -> pd.DataFrame:
    """Table of ``L2, Linf, linf_over_l2, rho_diag, prop3_bound, psd`` per Hessian of the grid
    (``family``: the grid's spectrum family, which picks the ``L_inf`` path)."""
    flat = grid.hessians.reshape(-1, grid.dim, grid.dim)
    linf = exact_linf(grid, max_exact_dim, family)
    table = grid_index(grid)
    table["L2"] = lambda_max(flat)
    table["Linf"] = linf
    table["linf_over_l2"] = linf / table["L2"]
    table["rho_diag"] = rho_diag(flat)
    table["prop3_bound"] = prop3_bound(flat)
    table["psd"] = is_psd(flat)
    return table


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hessians", type=Path, required=True)
    parser.add_argument("--max-exact-dim", type=int, required=True)
    parser.add_argument(
        "--family", default=None, help="spectrum family of the grid (picks the L_inf path)"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    grid = HessianGrid.load(args.hessians)
    table = smoothness_constants(grid, args.max_exact_dim, args.family)
    write_table(table, args.out)
    log.info("wrote %d rows to %s", len(table), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
