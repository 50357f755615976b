"""Figure 3: per model (rows), training loss per epoch of the selected runs (left) and the
estimated improvement ratio ``R_hat = phi d L2_hat / Linf_hat`` along both trajectories with
the line ``R = 1`` (right), both on log axes.

Over seeds, each curve is the per-epoch geometric mean with its t-interval of the logs at
``level`` (``seed_bands``; no band with one seed), every seed drawn faintly beneath it. Only
selected, completed runs are drawn; a non-finite ``R_hat`` is refused, not plotted. ``R_hat``
is the paper's estimator: the headline probe option's rows of ``smoothness.csv``
(:func:`signgeom.analysis.probe_options.headline_rows`), not those of the robustness options.
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
import seaborn as sns  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

from signgeom.analysis.probe_options import headline_rows  # noqa: E402
from signgeom.cli import run_cli  # noqa: E402
from signgeom.io import read_table  # noqa: E402
from signgeom.plotting import save_figure  # noqa: E402
from signgeom.stats import geometric_t_interval  # noqa: E402

LABELS = {
    "sgd": "SGD (momentum)",
    "signsgd": "signSGD (momentum)",
    "adam": "Adam",
    "lion": "Lion",
    "muon": "Muon",
}
MODEL_TITLES = {"cnn": "CNN (Keras cifar10_cnn)", "resnet20": "ResNet20"}
BAND_COLUMNS = ["model", "optimizer", "quantity", "epoch", "mean", "lo", "hi", "n_seeds"]


def seed_bands(table: pd.DataFrame, value: str, quantity: str, level: float) -> pd.DataFrame:
    """Per (model, optimizer, epoch): geometric mean of ``value`` over seeds and its t-interval
    (columns ``BAND_COLUMNS``; NaN bounds where one seed)."""
    rows = []
    for (model, opt, epoch), group in table.groupby(["model", "optimizer", "epoch"], sort=True):
        mean, lo, hi, n = geometric_t_interval(group[value].to_numpy(), level)
        rows.append([model, opt, quantity, epoch, mean, lo, hi, n])
    return pd.DataFrame(rows, columns=BAND_COLUMNS)


def figure3_bands(smoothness: pd.DataFrame, metrics: pd.DataFrame, level: float) -> pd.DataFrame:
    """Every curve and band Figure 3 draws: ``train_loss`` and ``R_hat`` per epoch."""
    selected = metrics[metrics["selected"].astype(bool)]
    return pd.concat(
        [
            seed_bands(selected, "train_loss", "train_loss", level),
            seed_bands(smoothness, "R_hat", "R_hat", level),
        ],
        ignore_index=True,
    )


def _check(selected: pd.DataFrame, smoothness: pd.DataFrame) -> None:
    if (selected["status"] != "completed").any():
        bad = selected[selected["status"] != "completed"][["model", "optimizer", "lr"]]
        raise ValueError(f"selected runs did not complete: {bad.drop_duplicates().values.tolist()}")
    if not (np.isfinite(smoothness["R_hat"]) & (smoothness["R_hat"] > 0)).all():
        bad = smoothness[~(np.isfinite(smoothness["R_hat"]) & (smoothness["R_hat"] > 0))]
        raise ValueError(
            f"non-finite or non-positive R_hat: {bad[['model', 'optimizer', 'epoch']].values}"
        )


def plain_log_axis(ax: plt.Axes) -> None:
    """Log y axis labelled in plain numbers (0.5, 1, 2, ...) at 1-2-5 ticks; on an axis that
    spans less than a decade, every minor tick is labelled too."""
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    narrow = hi / lo < 10
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 1.0))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:.2g}" if narrow else ""))


def _draw(ax, raw, value, band, color, label) -> None:
    """Each seed faint, the geometric mean solid, the interval shaded."""
    for _, run in raw.groupby("seed"):
        run = run.sort_values("epoch")
        ax.plot(run["epoch"], run[value], color=color, alpha=0.25, lw=0.8)
    marker = "o-" if value == "R_hat" else "-"
    ax.plot(band["epoch"], band["mean"], marker, ms=3, color=color, label=label)
    if band["n_seeds"].max() > 1:
        ax.fill_between(band["epoch"], band["lo"], band["hi"], color=color, alpha=0.2, lw=0)


def draw_figure3(
    step_sizes: pd.DataFrame, smoothness: pd.DataFrame, metrics: pd.DataFrame, level: float = 0.9
) -> plt.Figure:
    """The two panels per model described in the module docstring."""
    smoothness = headline_rows(smoothness)
    selected = metrics[metrics["selected"].astype(bool)]
    _check(selected, smoothness)
    bands = figure3_bands(smoothness, metrics, level)
    models = list(dict.fromkeys(step_sizes["model"]))
    optimizers = list(dict.fromkeys(step_sizes["optimizer"]))
    palette = dict(zip(optimizers, sns.color_palette("colorblind", len(optimizers)), strict=True))
    fig, axes = plt.subplots(
        len(models), 2, figsize=(10, 3.6 * len(models)), squeeze=False, constrained_layout=True
    )
    for row, model in enumerate(models):
        ax_loss, ax_ratio = axes[row]
        for opt in optimizers:
            chosen = step_sizes[(step_sizes["model"] == model) & (step_sizes["optimizer"] == opt)]
            label = f"{LABELS.get(opt, opt)}, lr={chosen['lr'].iloc[0]:.3g}"
            if "final_test_acc" in chosen:  # the paper's anchor: about 85% test accuracy
                label += f", test acc. {chosen['final_test_acc'].iloc[0]:.1%}"
            key = (bands["model"] == model) & (bands["optimizer"] == opt)
            runs = selected[(selected["model"] == model) & (selected["optimizer"] == opt)]
            band = bands[key & (bands["quantity"] == "train_loss")]
            _draw(ax_loss, runs, "train_loss", band, palette[opt], label)
            est = smoothness[(smoothness["model"] == model) & (smoothness["optimizer"] == opt)]
            band = bands[key & (bands["quantity"] == "R_hat")]
            _draw(ax_ratio, est, "R_hat", band, palette[opt], f"along {LABELS.get(opt, opt)}")
        ax_ratio.axhline(1.0, color="k", ls="--", lw=1, label="R = 1")
        for ax in (ax_loss, ax_ratio):
            plain_log_axis(ax)
        n_seeds = int(selected[selected["model"] == model]["seed"].nunique())
        seeds = f"{n_seeds} seeds, {level:.0%} t-interval" if n_seeds > 1 else "1 seed"
        title = MODEL_TITLES.get(model, model)
        ax_loss.set(xlabel="epoch", ylabel="training loss", title=f"{title} ({seeds})")
        ax_ratio.set(
            xlabel="epoch",
            ylabel=r"$\hat R = \phi\, d\, \hat L_2 / \hat L_\infty$",
            title=f"{title}: improvement ratio",
        )
        ax_loss.legend(fontsize=8)
        ax_ratio.legend(fontsize=8)
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-sizes", type=Path, required=True)
    parser.add_argument("--smoothness", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--level", type=float, required=True, help="band level, e.g. 0.9")
    parser.add_argument("--out", type=Path, nargs="+", required=True)
    args = parser.parse_args(argv)
    fig = draw_figure3(
        read_table(args.step_sizes),
        read_table(args.smoothness),
        read_table(args.metrics),
        args.level,
    )
    save_figure(fig, args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
