"""Descending Du et al.'s tube of saddles (after Bernstein et al. 2018, Figure 1): the objective
per iteration of every method, one panel per shown rotation (unrotated; a Haar rotation where
signGD reaches the minimum; one where signGD is caught in an exactly periodic orbit at a
saddle, with its period and saddle from the table). Dotted lines: the saddle values
``-(k - 1) nu`` and the minimum ``-d nu``.
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
from signgeom.quadratic.saddle_runs import METHODS, read_saddle_table, shown_rotations  # noqa: E402
from signgeom.quadratic.saddles import Tube  # noqa: E402
from signgeom.quadratic.settings import TubeSettings  # noqa: E402

LABELS = {
    "gd": "GD",
    "pgd": "perturbed GD",
    "sign": "signGD",
    "sign_momentum": "signGD + momentum",
    "rescaled": "rescaled GD",
}
COLORS = {
    "gd": "#1b4f8a",
    "pgd": "#7a7a7a",
    "sign": "#d95f02",
    "sign_momentum": "#1b9e77",
    "rescaled": "#7570b3",
}


def panel_title(kind: str, rotation: int, table: pd.DataFrame) -> str:
    """Title of one panel; the periodic panel names signGD's period and saddle from the table."""
    if kind == "unrotated":
        return "unrotated tube"
    if kind == "rotated":
        return f"Haar rotation {rotation}"
    row = table[(table["method"] == "sign") & (table["rotation"] == rotation)].iloc[0]
    return (
        f"Haar rotation {rotation}: signGD periodic,\n"
        f"period {int(row['period'])} at saddle {int(row['orbit_saddle'])}"
    )


def draw_saddles(table: pd.DataFrame, traces: pd.DataFrame, tube: Tube) -> plt.Figure:
    """One panel per shown rotation, every method's objective per iteration."""
    dim = tube.dim
    shown = shown_rotations(table, dim)
    fig, axes = plt.subplots(
        1, len(shown), figsize=(4.2 * len(shown), 3.6), sharey=True, layout="constrained"
    )
    axes = np.atleast_1d(axes)
    for ax, (kind, rotation) in zip(axes, shown.items(), strict=True):
        for method in METHODS:
            part = traces[(traces["method"] == method) & (traces["rotation"] == rotation)]
            if part.empty:
                continue
            ax.plot(
                part["step"].to_numpy(),
                part["objective"].to_numpy(),
                color=COLORS[method],
                lw=1.3,
                label=LABELS[method],
            )
        for k in range(dim + 1):
            ax.axhline(-k * tube.nu, color="k", lw=0.3, ls=":")
        ax.set_title(panel_title(kind, rotation, table), fontsize=9)
        ax.set_xlabel("iteration")
    axes[0].set_ylabel("objective")
    axes[0].legend(fontsize=7, loc="upper right")
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    TubeSettings.add_arguments(parser)
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--traces", type=Path, required=True)
    parser.add_argument("--out", type=Path, nargs="+", required=True)
    args = parser.parse_args(argv)
    s = TubeSettings.from_args(args)
    tube = Tube(s.dim, s.L, s.gamma, s.tau)
    fig = draw_saddles(read_saddle_table(args.table), read_table(args.traces), tube)
    save_figure(fig, args.out)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
