"""Dense vs sparse noise: the SGD/signSGD ratio of median steps to the target against ``d``.

One panel without momentum, one with. Points: ``ratios.csv`` (bootstrap intervals as error
bars); solid line: the fitted power law ``exp(intercept) d^slope`` of ``slopes.csv``; dashed line:
the theory's slope, drawn through the fitted line at the geometric mean of the fitted ``d``.
A ratio above 1 means signSGD needs fewer steps.
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

COLOURS = {"dense": "tab:blue", "sparse": "tab:orange"}


def draw_noise_dimension(ratios: pd.DataFrame, slopes: pd.DataFrame) -> plt.Figure:
    """The figure of the module docstring; each ratio series has ``gid`` ``ratio:<geometry>:
    <momentum>`` so that tests can read the numbers drawn."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True, sharey=True)
    for ax, momentum in zip(axes, (False, True), strict=True):
        for geometry, colour in COLOURS.items():
            cell = ratios[(ratios["geometry"] == geometry) & (ratios["momentum"] == momentum)]
            cell = cell.dropna(subset=["ratio"]).sort_values("dim")
            d = cell["dim"].to_numpy(dtype=float)
            r = cell["ratio"].to_numpy()
            err = np.abs(np.vstack([r - cell["ratio_lo"], cell["ratio_hi"] - r]))
            err = np.where(np.isfinite(err), err, 0.0)
            bars = ax.errorbar(d, r, yerr=err, fmt="o", color=colour, capsize=3)
            bars.lines[0].set_gid(f"ratio:{geometry}:{momentum}")
            fit = slopes[(slopes["geometry"] == geometry) & (slopes["momentum"] == momentum)]
            if len(fit) != 1 or not np.isfinite(fit["slope"].iloc[0]):
                bars.set_label(f"{geometry}: no slope")
                continue
            f = fit.iloc[0]
            line = np.exp(f["intercept"]) * d ** f["slope"]
            ax.plot(
                d,
                line,
                "-",
                color=colour,
                label=f"{geometry}: slope {f['slope']:.2f} "
                f"[{f['slope_lo']:.2f}, {f['slope_hi']:.2f}]",
            )
            mid = np.exp(np.log(d).mean())
            anchor = np.exp(f["intercept"]) * mid ** f["slope"]
            ax.plot(
                d,
                anchor * (d / mid) ** f["predicted_slope"],
                "--",
                color=colour,
                label=f"{geometry}: theory slope {f['predicted_slope']:.2f} ({f['verdict']})",
            )
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("dimension d")
        ax.set_title("with momentum" if momentum else "without momentum")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("median steps SGD / signSGD")
    fig.suptitle("Steps to the target min_t ||grad f||_1: SGD over signSGD (> 1: signSGD faster)")
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratios", type=Path, required=True)
    parser.add_argument("--slopes", type=Path, required=True)
    parser.add_argument("--out", type=Path, nargs="+", required=True)
    args = parser.parse_args(argv)
    save_figure(draw_noise_dimension(read_table(args.ratios), read_table(args.slopes)), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
