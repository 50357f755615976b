"""The sign-family Figure 3: per model (rows), the training loss of every selected optimizer
(left), and along each trajectory the sign agreement (middle) and the cosine (right) of its
update with signSGD-momentum's from the same warm-up (``signgeom.estimate.similarity``).

Everything drawn comes from ``family.csv`` (``signgeom.analysis.family``): lines are the mean
over seeds, shaded bands the smallest to largest seed where there are several. R_hat along
every trajectory is in Figure 3 itself.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import LogFormatter  # noqa: E402

from signgeom.analysis.family import QUANTITIES  # noqa: E402
from signgeom.cli import run_cli  # noqa: E402
from signgeom.io import read_table  # noqa: E402
from signgeom.plotting import panel_grid, save_figure  # noqa: E402
from signgeom.plotting.figure3 import LABELS, MODEL_TITLES  # noqa: E402

MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
YLABELS = {
    "train_loss": "training loss",
    "sign_agreement": "sign agreement with signSGD-m",
    "cosine": "cosine with signSGD-m update",
}


def line_gid(model: str, optimizer: str, quantity: str) -> str:
    """The ``gid`` of the line drawn for (model, optimizer, quantity): tests find it by it."""
    return f"{model}/{optimizer}/{quantity}"


def draw_family(table: pd.DataFrame) -> plt.Figure:
    """The panels described in the module docstring, from ``family.csv``."""
    models = list(dict.fromkeys(table["model"]))
    optimizers = list(dict.fromkeys(table["optimizer"]))
    palette = dict(zip(optimizers, sns.color_palette("colorblind", len(optimizers)), strict=True))
    markers = dict(zip(optimizers, MARKERS * len(optimizers), strict=False))  # cycles
    fig, axes = panel_grid(len(models), len(QUANTITIES), width=4.2)
    for row, model in enumerate(models):
        for col, quantity in enumerate(QUANTITIES):
            ax = axes[row][col]
            for opt in optimizers:
                sel = table[
                    (table["model"] == model)
                    & (table["optimizer"] == opt)
                    & (table["quantity"] == quantity)
                ].sort_values("epoch")
                if sel.empty:
                    continue
                label = f"{LABELS.get(opt, opt)}, lr={sel['lr'].iloc[0]:.3g}"
                ax.plot(
                    sel["epoch"].to_numpy(),
                    sel["mean"].to_numpy(),
                    "-",
                    marker=markers[opt] if quantity != "train_loss" else None,
                    ms=4,
                    color=palette[opt],
                    label=label,
                    gid=line_gid(model, opt, quantity),
                )
                if (sel["n_seeds"] > 1).any():
                    band = ax.fill_between(
                        sel["epoch"], sel["lo"], sel["hi"], color=palette[opt], alpha=0.2, lw=0
                    )
                    band.set_gid(line_gid(model, opt, quantity) + "/band")
            if quantity == "train_loss":
                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
                ax.yaxis.set_minor_formatter(
                    LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 1))
                )
            ax.set(xlabel="epoch", ylabel=YLABELS[quantity], title=MODEL_TITLES.get(model, model))
        axes[row][0].legend(fontsize=7)  # colours; the markers of the other panels:
        axes[row][1].legend(fontsize=7, title="equal values overlap", title_fontsize=7)
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", type=Path, required=True, help="family.csv")
    parser.add_argument("--out", type=Path, nargs="+", required=True)
    args = parser.parse_args(argv)
    save_figure(draw_family(read_table(args.family)), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
