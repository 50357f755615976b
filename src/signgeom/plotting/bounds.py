"""The bound chain of Prop. 5 over the Figure 2 grid: ``L_sep / L_inf`` (left) and
``prop3_bound / L_inf`` (right), mean over the rotations of each (``theta``,
``lambda_max / lambda_bar``) cell, for one spectrum family.

Both ratios are at least 1 (Prop. 5); ``L_sep / L_inf <= pi/2`` (Nesterov). Each panel has its own
colour scale starting at 1, and its title gives the largest per-Hessian ratio.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from signgeom.cli import run_cli  # noqa: E402
from signgeom.io import read_table  # noqa: E402
from signgeom.plotting import save_figure  # noqa: E402
from signgeom.plotting.figure2 import cell_edges, pivot  # noqa: E402

TIGHT = 1e-5
"""Ratios within this of 1 count as tight (the SDP's certified accuracy is 1e-6)."""

PANELS = {
    "lsep_over_linf": r"$L_{\rm sep} / L_\infty$",
    "prop3_over_linf": r"Prop. 3 bound $/\, L_\infty$",
}


def draw_bounds(separable: pd.DataFrame, family: str) -> plt.Figure:
    """Two heatmaps of the per-cell mean ratios (see the module docstring)."""
    missing = {"theta", "lambda_ratio", *PANELS} - set(separable.columns)
    if missing:
        raise ValueError(f"separable table lacks the columns {sorted(missing)}")
    cells = separable.groupby(["theta", "lambda_ratio"], as_index=False)[list(PANELS)].mean()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, (column, label) in zip(axes, PANELS.items(), strict=True):
        thetas, ratios, values = pivot(cells, column)
        if np.isnan(values).any():
            raise ValueError(f"{column}: the grid has missing cells; refusing to plot it")
        top = max(float(values.max()), 1.01)
        mesh = ax.pcolormesh(
            cell_edges(thetas), cell_edges(ratios), values, cmap="magma_r", vmin=1.0, vmax=top
        )
        bar = fig.colorbar(mesh, ax=ax, label=label + " (mean over rotations)")
        bar.formatter.set_useOffset(False)
        worst = float(separable[column].max())
        if worst - 1.0 <= TIGHT:
            ax.set_title(f"{label} = 1 on every Hessian")
        else:
            ax.set_title(f"{label}   (max over Hessians {worst:.4g})")
        ax.set_xlabel(r"rotation $\theta$")
        ax.set_ylabel(r"$\lambda_{\max} / \bar\lambda$")
    fig.suptitle(rf"$L_\infty \leq L_{{\rm sep}} \leq$ Prop. 3 bound; spectrum family {family}")
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--separable", type=Path, required=True)
    parser.add_argument("--family", required=True)
    parser.add_argument("--out", type=Path, nargs="+", required=True)
    args = parser.parse_args(argv)
    save_figure(draw_bounds(read_table(args.separable), args.family), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
