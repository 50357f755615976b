"""Majority vote: speed-up in the number of workers ``M`` (top) and uplink bits to the target
(bottom), dense noise (left) and sparse noise (right).

Lines: SGD (mean of ``M`` gradients) and signSGD (majority vote), Gaussian and skewed noise.
A series whose median run never reached the target is listed in the legend as ``not reached``
and has no points at those ``M``. Error bars: bootstrap intervals of ``majority.csv``.
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
from signgeom.quadratic.noise import GEOMETRIES  # noqa: E402

STYLES = {"sgd": ("tab:blue", "o"), "signsgd": ("tab:red", "s")}
LINES = {"gaussian": "-", "centred_exponential": "--"}
ROWS = {"speedup": "speed-up: median steps (M=1) / (M)", "bits": "uplink bits to the target"}


def draw_majority(table: pd.DataFrame) -> plt.Figure:
    """The figure of the module docstring; each series has ``gid``
    ``<quantity>:<geometry>:<distribution>:<optimizer>`` (the numbers drawn, for tests)."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True, sharex=True)
    for col, geometry in enumerate(GEOMETRIES):
        for row, (quantity, label) in enumerate(ROWS.items()):
            ax = axes[row, col]
            for (dist, opt), cell in table[table["geometry"] == geometry].groupby(
                ["distribution", "optimizer"], sort=True
            ):
                cell = cell.sort_values("workers")
                shown = cell[np.isfinite(cell[quantity])]
                y = shown[quantity].to_numpy(dtype=float)
                err = np.vstack([y - shown[f"{quantity}_lo"], shown[f"{quantity}_hi"] - y])
                err = np.where(np.isfinite(err), np.abs(err), 0.0)
                colour, marker = STYLES[opt]
                missing = sorted(set(cell["workers"]) - set(shown["workers"]))
                note = f" (not reached at M={missing})" if missing else ""
                bars = ax.errorbar(
                    shown["workers"],
                    y,
                    yerr=err,
                    color=colour,
                    marker=marker,
                    ls=LINES.get(dist, ":"),
                    capsize=3,
                    label=f"{opt}, {dist}{note}",
                )
                bars.lines[0].set_gid(f"{quantity}:{geometry}:{dist}:{opt}")
            if quantity == "speedup":
                m = np.sort(table["workers"].unique()).astype(float)
                ax.plot(m, m, color="grey", lw=0.8, label="linear speed-up")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_ylabel(label)
            ax.set_title(f"{geometry} noise")
            ax.legend(fontsize=7)
        axes[1, col].set_xlabel("workers M")
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--out", type=Path, nargs="+", required=True)
    args = parser.parse_args(argv)
    save_figure(draw_majority(read_table(args.table)), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
