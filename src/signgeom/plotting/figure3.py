"""Figure 3: per model (rows), training loss per epoch of the selected runs (left) and the
estimated improvement ratio ``R_hat = phi d L2_hat / Linf_hat`` along both trajectories with
the line ``R = 1`` (right).

Only selected, non-diverged runs are drawn; a non-finite ``R_hat`` is refused, not plotted.
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
from matplotlib.ticker import LogFormatter  # noqa: E402

from signgeom.cli import run_cli  # noqa: E402
from signgeom.io import read_table  # noqa: E402
from signgeom.plotting import save_figure  # noqa: E402

LABELS = {
    "sgd": "SGD (momentum)",
    "signsgd": "signSGD (momentum)",
    "adam": "Adam",
    "lion": "Lion",
    "muon": "Muon",
}
MODEL_TITLES = {"cnn": "CNN (Keras cifar10_cnn)", "resnet20": "ResNet20"}


def draw_figure3(
    step_sizes: pd.DataFrame, smoothness: pd.DataFrame, metrics: pd.DataFrame
) -> plt.Figure:
    """The two panels per model described in the module docstring."""
    selected = metrics[metrics["selected"]]
    if (selected["status"] != "completed").any():
        bad = selected[selected["status"] != "completed"][["model", "optimizer", "lr"]]
        raise ValueError(f"selected runs did not complete: {bad.drop_duplicates().values.tolist()}")
    if not np.isfinite(smoothness["R_hat"]).all():
        bad = smoothness[~np.isfinite(smoothness["R_hat"])][["model", "optimizer", "epoch"]]
        raise ValueError(f"non-finite R_hat estimates: {bad.values.tolist()}")
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
            runs = selected[(selected["model"] == model) & (selected["optimizer"] == opt)]
            loss = runs.groupby("epoch")["train_loss"].mean()
            ax_loss.plot(loss.index, loss.to_numpy(), color=palette[opt], label=label)
            est = smoothness[(smoothness["model"] == model) & (smoothness["optimizer"] == opt)]
            ax_ratio.plot(
                est["epoch"],
                est["R_hat"],
                "o-",
                ms=3,
                color=palette[opt],
                label=f"along {LABELS.get(opt, opt)}",
            )
        ax_ratio.axhline(1.0, color="k", ls="--", lw=1, label="R = 1")
        ax_loss.set_yscale("log")
        ax_loss.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
        ax_loss.yaxis.set_minor_formatter(
            LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 1))
        )
        ax_loss.set(xlabel="epoch", ylabel="training loss", title=MODEL_TITLES.get(model, model))
        ax_ratio.set(
            xlabel="epoch",
            ylabel=r"$\hat R = \phi\, d\, \hat L_2 / \hat L_\infty$",
            title=f"{MODEL_TITLES.get(model, model)}: improvement ratio",
        )
        ax_loss.legend(fontsize=8)
        ax_ratio.legend(fontsize=8)
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-sizes", type=Path, required=True)
    parser.add_argument("--smoothness", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--out", type=Path, nargs="+", required=True)
    args = parser.parse_args(argv)
    fig = draw_figure3(
        read_table(args.step_sizes), read_table(args.smoothness), read_table(args.metrics)
    )
    save_figure(fig, args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
