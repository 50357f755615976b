"""Probe-length sensitivity figure: per model (rows) and trajectory (columns), R_hat against
the multiplier ``c`` of the probe lengths, one line per estimated epoch (log-log), with
``c = 1`` (the configured probe step) and ``R = 1`` marked; hollow markers where the two
probes' lengths differ by more than the stated factor."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from signgeom.cli import run_cli  # noqa: E402
from signgeom.io import read_table  # noqa: E402
from signgeom.plotting import panel_grid, save_figure  # noqa: E402
from signgeom.plotting.figure3 import LABELS, MODEL_TITLES, plain_log_axis  # noqa: E402


def sensitivity_curves(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, optimizer, seed, epoch, factor): the ``R_hat`` the figure draws."""
    keys = ["model", "optimizer", "seed", "epoch", "factor"]
    return table.groupby(keys, sort=True)[["R_hat", "lengths_differ"]].first().reset_index()


def draw_sensitivity(table: pd.DataFrame) -> plt.Figure:
    """The panels described in the module docstring."""
    curves = sensitivity_curves(table)
    models = list(dict.fromkeys(curves["model"]))
    optimizers = list(dict.fromkeys(curves["optimizer"]))
    fig, axes = panel_grid(len(models), len(optimizers))
    for i, model in enumerate(models):
        for j, opt in enumerate(optimizers):
            ax = axes[i][j]
            part = curves[(curves["model"] == model) & (curves["optimizer"] == opt)]
            epochs = sorted(part["epoch"].unique())
            colors = sns.color_palette("viridis", max(len(epochs), 1))
            for color, epoch in zip(colors, epochs, strict=True):
                line = part[part["epoch"] == epoch].sort_values("factor")
                ax.plot(line["factor"], line["R_hat"], "-", color=color, label=f"epoch {epoch}")
                flag = line["lengths_differ"].astype(bool)
                ax.plot(line["factor"][~flag], line["R_hat"][~flag], "o", color=color, ms=4)
                ax.plot(line["factor"][flag], line["R_hat"][flag], "o", mfc="none", color=color)
            ax.axhline(1.0, color="k", ls="--", lw=1)
            ax.axvline(1.0, color="grey", ls=":", lw=1)
            ax.set_xscale("log")
            plain_log_axis(ax)
            ax.set(
                xlabel="probe length multiplier c",
                ylabel=r"$\hat R$",
                title=f"{MODEL_TITLES.get(model, model)}, along {LABELS.get(opt, opt)}",
            )
            ax.legend(fontsize=7)
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensitivity", type=Path, required=True)
    parser.add_argument("--out", type=Path, nargs="+", required=True)
    args = parser.parse_args(argv)
    save_figure(draw_sensitivity(read_table(args.sensitivity)), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
