"""Figure 2: left ``L_inf / L_2``, right the signGD/GD distance ratio, over
``theta`` (x) and ``lambda_max / lambda_bar`` (y).

The ratio uses a log colour scale clipped to ``[1e-1, 1e1]``; a dashed contour marks where both
methods are equal (ratio 1). Infinite ratios (GD exact in one step) are drawn at the clip value.
Where the summary has the bootstrap interval (``dist_ratio_lo``, ``dist_ratio_hi``), the band of
cells whose interval contains 1 is hatched and bounded by dotted contours ``lo = 1`` and
``hi = 1``: the equal-performance line lies inside it at the interval's level.
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
from matplotlib.colors import LogNorm  # noqa: E402

from signgeom.cli import run_cli  # noqa: E402
from signgeom.io import read_table  # noqa: E402
from signgeom.plotting import save_figure  # noqa: E402

RATIO_CLIP = (1e-1, 1e1)


def cell_edges(centres: np.ndarray) -> np.ndarray:
    """Edges of grid cells around sorted centres (midpoints, extended at both ends)."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


def pivot(summary: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(thetas, ratios, values[ratio, theta])`` from the summary table."""
    table = summary.pivot(index="lambda_ratio", columns="theta", values=column).sort_index()
    table = table.sort_index(axis=1)
    return table.columns.to_numpy(), table.index.to_numpy(), table.to_numpy()


def draw_band(ax: plt.Axes, summary: pd.DataFrame, thetas: np.ndarray, ratios: np.ndarray) -> None:
    """Hatch where the interval ``[lo, hi]`` contains 1, with dotted contours ``lo = 1``,
    ``hi = 1``.

    The band is ``{log lo <= 0 <= log hi} = {min(log hi, -log lo) >= 0}``, one level set of a
    continuous field, so it is drawn with the same interpolation as the dashed line.
    """
    level = summary["ci_level"].iloc[0] if "ci_level" in summary else None
    with np.errstate(divide="ignore"):
        log_lo = np.log(np.clip(pivot(summary, "dist_ratio_lo")[2], *RATIO_CLIP))
        log_hi = np.log(np.clip(pivot(summary, "dist_ratio_hi")[2], *RATIO_CLIP))
    inside = np.minimum(log_hi, -log_lo)
    if inside.max() <= 0:  # 1 is in no cell's interval: no band to draw
        return
    ax.contourf(thetas, ratios, inside, levels=[0.0, np.inf], colors="none", hatches=["////"])
    for field in (log_lo, log_hi):
        if field.min() < 0 < field.max():
            ax.contour(
                thetas, ratios, field, levels=[0.0], colors="k", linestyles="dotted", linewidths=0.9
            )
    if level is not None:
        ax.text(
            0.98,
            0.02,
            f"hatched: {level:.0%} interval contains 1",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none"},
        )


def draw_figure2(summary: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """The two heatmaps of Figure 2."""
    thetas, ratios, linf = pivot(summary, "linf_over_l2")
    _, _, dist = pivot(summary, "dist_ratio")
    if np.isnan(linf).any() or np.isnan(dist).any():
        raise ValueError("summary has missing or NaN cells; refusing to plot an incomplete grid")
    x_edges, y_edges = cell_edges(thetas), cell_edges(ratios)
    fig, (ax_l, ax_r) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)

    mesh = ax_l.pcolormesh(x_edges, y_edges, linf, cmap="viridis", shading="flat")
    fig.colorbar(mesh, ax=ax_l, label=r"$L_\infty / L_2$")
    ax_l.set_title(r"$L_\infty / L_2$")

    clipped = np.clip(dist, *RATIO_CLIP)
    mesh = ax_r.pcolormesh(
        x_edges, y_edges, clipped, cmap="RdBu_r", norm=LogNorm(*RATIO_CLIP), shading="flat"
    )
    fig.colorbar(mesh, ax=ax_r, label=r"$\|x_T^{\rm sign}-x^*\| \,/\, \|x_T^{\rm GD}-x^*\|$")
    if len(thetas) > 1 and len(ratios) > 1:
        if {"dist_ratio_lo", "dist_ratio_hi"} <= set(summary.columns):
            draw_band(ax_r, summary, thetas, ratios)
        if clipped.min() < 1 < clipped.max():
            ax_r.contour(
                thetas,
                ratios,
                np.log(clipped),
                levels=[0.0],
                colors="k",
                linestyles="dashed",
                linewidths=1.2,
            )
    ax_r.set_title("signGD / GD distance to optimum")

    for ax in (ax_l, ax_r):
        ax.set_xlabel(r"rotation $\theta$")
        ax.set_ylabel(r"$\lambda_{\max} / \bar\lambda$")
    if title:
        fig.suptitle(title)
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", type=Path, required=True)
    parser.add_argument("--family", required=True, help="spectrum family, shown in the title")
    parser.add_argument(
        "--out",
        type=Path,
        nargs="+",
        required=True,
        help="output files; the format follows the suffix (.pdf, .png)",
    )
    args = parser.parse_args(argv)
    fig = draw_figure2(read_table(args.summary), title=f"spectrum family {args.family}")
    save_figure(fig, args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
