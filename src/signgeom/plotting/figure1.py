"""Figure 1: contour lines ``x^T H x = 1`` of 2-D quadratics with ``lambda_min`` fixed, one row
per ``lambda_max`` and one column per rotation angle, each panel annotated with ``L_2`` and the
exact ``L_inf = a + d + 2|b|``: ``L_inf`` grows as ``H`` turns away from the axes, ``L_2`` does not.

With ``bounds=True`` the same panels become Figure 4 (see :mod:`signgeom.plotting.figure4`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from signgeom.cli import run_cli  # noqa: E402
from signgeom.plotting import save_figure  # noqa: E402
from signgeom.quadratic.settings import TwoDSettings  # noqa: E402
from signgeom.quadratic.two_d import (  # noqa: E402
    ellipse,
    hessian_2d,
    linf_2d,
    separable_bound_2d,
)

COLORS = {"H": "#1b4f8a", "sep": "#d95f02", "euclid": "#7a7a7a"}
SEP_LABEL = r"separable bound $x^\top \mathrm{diag}(l)\, x = 1$"
EUCLID_LABEL = r"Euclidean bound $\lambda_{\max} \|x\|^2 = 1$"


def draw_panel(ax: plt.Axes, h: np.ndarray, lambda_min: float, bounds: bool) -> None:
    """One contour ``x^T H x = 1`` with its principal axes; Figure 4 adds both bounds."""
    lam, q = np.linalg.eigh(h)
    x = ellipse(h)
    ax.fill(x[:, 0], x[:, 1], color=COLORS["H"], alpha=0.08, lw=0)
    ax.plot(x[:, 0], x[:, 1], color=COLORS["H"], lw=1.8, label=r"$x^\top H x = 1$")
    for mu, v in zip(lam, q.T, strict=True):
        end = v / np.sqrt(mu)
        ax.plot([-end[0], end[0]], [-end[1], end[1]], color=COLORS["H"], lw=0.6, ls=":")
    linf = linf_2d(h)
    text = rf"$L_2 = {lam[-1]:.3g}$,  $L_\infty = {linf:.3g}$"
    if bounds:
        lsep = separable_bound_2d(h)
        s = ellipse(np.diag(lsep))
        ax.plot(s[:, 0], s[:, 1], color=COLORS["sep"], lw=1.6, ls="--", label=SEP_LABEL)
        c = ellipse(lam[-1] * np.eye(2))
        ax.plot(c[:, 0], c[:, 1], color=COLORS["euclid"], lw=1.2, ls="-.", label=EUCLID_LABEL)
        text = (
            rf"$l = ({lsep[0]:.3g},\ {lsep[1]:.3g})$" + "\n"
            rf"$l_1 + l_2 = L_\infty = {linf:.3g}$,  $L_2 = {lam[-1]:.3g}$"
        )
    lim = 1.08 / np.sqrt(lambda_min)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
    ax.axhline(0, color="k", lw=0.4)
    ax.axvline(0, color="k", lw=0.4)
    ax.set_xlabel(text, fontsize=8)


def draw_ellipses(
    lambda_max: Sequence[float],
    angles_deg: Sequence[float],
    lambda_min: float,
    bounds: bool = False,
) -> plt.Figure:
    """The panel grid: rows ``lambda_max``, columns rotation angles (degrees)."""
    if min(lambda_max) < lambda_min or lambda_min <= 0:
        raise ValueError(
            f"need 0 < lambda_min <= lambda_max, got lambda_min = {lambda_min}, "
            f"lambda_max = {list(lambda_max)}"
        )
    rows, cols = len(lambda_max), len(angles_deg)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(2.0 * cols + 0.4, 2.3 * rows + 0.7),
        squeeze=False,
        layout="constrained",
    )
    for i, lam in enumerate(lambda_max):
        for j, deg in enumerate(angles_deg):
            ax = axes[i, j]
            draw_panel(ax, hessian_2d(lam, lambda_min, np.deg2rad(deg)), lambda_min, bounds)
            if i == 0:
                ax.set_title(f"angle {deg:g}°", fontsize=10)
            if j == 0:
                ax.set_ylabel(rf"$\lambda_{{\max}} = {lam:g}$", fontsize=10)
    if bounds:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(
        rf"$H = R\,\mathrm{{diag}}(\lambda_{{\max}}, {lambda_min:g})\,R^\top$, "
        r"eigenvector of $\lambda_{\max}$ at the angle shown",
        fontsize=10,
    )
    return fig


def parser(description: str) -> argparse.ArgumentParser:
    """The 2-D figures' CLI: the ``TwoDSettings`` (``--settings JSON`` or flags) and ``--out``."""
    p = argparse.ArgumentParser(description=description)
    TwoDSettings.add_arguments(p)
    p.add_argument("--out", type=Path, nargs="+", required=True)
    return p


def main(argv: Sequence[str] | None = None, bounds: bool = False) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    s = TwoDSettings.from_args(args)
    fig = draw_ellipses(s.lambda_max, s.angles_deg, s.lambda_min, bounds=bounds)
    save_figure(fig, args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
