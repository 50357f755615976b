"""Figure 5 (beyond the paper): training in rotated coordinates, per model (rows).

Left: final training loss against the rotation strength ``theta`` for each optimizer, at its
selected step size (solid, circles) and the best over the step-size factors (dashed, squares;
diverged runs never count). Right: ``R_hat`` estimated in the rotated coordinates along each
factor-1 trajectory: the median over the estimated epochs (line) and their interquartile
range (band). With several seeds each point is the median over seeds of that column (band:
the medians of the quartiles). Every number drawn is a column of ``results/cifar/rotation.csv``
or its median over seeds.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from signgeom.cli import run_cli  # noqa: E402
from signgeom.io import read_table  # noqa: E402
from signgeom.plotting import save_figure  # noqa: E402
from signgeom.plotting.figure3 import LABELS, MODEL_TITLES, plain_log_axis  # noqa: E402

ESTIMATE_COLUMNS = ["R_hat_median", "R_hat_q25", "R_hat_q75"]


def over_seeds(runs: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Per theta (ascending): the median over seeds of each column (NaN values left out)."""
    return runs.groupby("theta", as_index=False)[list(columns)].median()


def draw_figure5(table: pd.DataFrame) -> plt.Figure:
    """The two panels per model described in the module docstring."""
    models = list(dict.fromkeys(table["model"]))
    optimizers = list(dict.fromkeys(table["optimizer"]))
    palette = dict(zip(optimizers, sns.color_palette("colorblind", len(optimizers)), strict=True))
    fig, axes = plt.subplots(
        len(models), 2, figsize=(11, 3.8 * len(models)), squeeze=False, constrained_layout=True
    )
    for row, model in enumerate(models):
        ax_loss, ax_ratio = axes[row]
        for opt in optimizers:
            runs = table[(table["model"] == model) & (table["optimizer"] == opt)]
            if runs.empty:
                continue
            who, colour = LABELS.get(opt, opt), palette[opt]
            fixed = over_seeds(
                runs[runs["lr_factor"] == 1.0], ["final_train_loss", *ESTIMATE_COLUMNS]
            )
            best = over_seeds(runs[runs["best"]], ["final_train_loss"])
            ax_loss.plot(fixed["theta"], fixed["final_train_loss"], "-o", color=colour,
                         label=f"{who}, selected step")  # fmt: skip
            ax_loss.plot(best["theta"], best["final_train_loss"], "--s", color=colour,
                         mfc="none", label=f"{who}, best step factor")  # fmt: skip
            est = fixed.dropna(subset=["R_hat_median"])
            ax_ratio.plot(est["theta"], est["R_hat_median"], "-o", color=colour,
                          label=f"along {who}")  # fmt: skip
            ax_ratio.fill_between(
                est["theta"], est["R_hat_q25"], est["R_hat_q75"], color=colour, alpha=0.25
            )
        ax_ratio.axhline(1.0, color="grey", lw=0.8, ls=":")
        title = MODEL_TITLES.get(model, model)
        ax_loss.set(title=f"{title}: final training loss", xlabel=r"rotation $\theta$",
                    ylabel="training loss", yscale="log")  # fmt: skip
        ax_ratio.set(title=rf"{title}: $\hat R$ in rotated coordinates",
                     xlabel=r"rotation $\theta$",
                     ylabel=r"$\hat R$ (median over epochs, IQR band)", yscale="log")  # fmt: skip
        plain_log_axis(ax_loss)
        plain_log_axis(ax_ratio)
        ax_loss.legend(fontsize="small")
        ax_ratio.legend(fontsize="small")
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="results/cifar/rotation.csv")
    parser.add_argument("--out", nargs="+", required=True, help="figure files (pdf, png)")
    args = parser.parse_args(argv)
    save_figure(draw_figure5(read_table(args.table)), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
