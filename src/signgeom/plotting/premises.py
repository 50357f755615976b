"""Premises of Eq. 13 on the network Hessian, per model (rows) along both trajectories.

Left: ``lambda_max / lambda_bar`` (error bar: the trace +- 2 standard errors; none drawn where
``trace - 2 se <= 0``), the mean random-block
``rho_diag``, ``phi``, the Eq. 13 expression ``rho_diag (lambda_max / lambda_bar) phi`` and
``R_hat``, on one log axis (colour: quantity; line style: trajectory). Points where
``lambda_bar`` is not positive have no ratio and no Eq. 13 value. Middle: ``lambda_max``,
``-lambda_min`` (negative curvature) and ``lambda_bar`` (with 2 standard errors), symlog axis.
Right: the stochastic-Lanczos spectral density at the last epoch with one (nodes as stems,
weights on a log axis).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from signgeom.cli import run_cli  # noqa: E402
from signgeom.io import read_table  # noqa: E402
from signgeom.plotting import save_figure  # noqa: E402
from signgeom.plotting.figure3 import LABELS, MODEL_TITLES  # noqa: E402

STYLES = ["-", "--", ":", "-."]
QUANTITIES = {  # column -> (label, colour, marker)
    "ratio": (r"$\lambda_{max}/\bar\lambda$", "C0", "o"),
    "rho_diag_random": (r"$\rho_{diag}$ (random blocks)", "C1", "s"),
    "phi": (r"$\phi(g)$", "C2", "^"),
    "eq13_random": (r"Eq. 13: $\rho_{diag}\,\lambda_{max}/\bar\lambda\,\phi$", "C3", "D"),
    "R_hat": (r"$\hat R$ (finite differences)", "k", "x"),
}


def symlog_ticks(largest: float, smallest: float = 1e-2) -> list[float]:
    """0 and +-10^k for every other decade from ``smallest`` up to ``largest`` (symlog axis
    labels that do not overlap)."""
    decades = [smallest]
    while decades[-1] < largest:
        decades.append(decades[-1] * 100.0)
    return sorted([-v for v in decades] + [0.0] + decades)


def draw_premises(hessian: pd.DataFrame, density: pd.DataFrame) -> plt.Figure:
    """The three panels per model described in the module docstring."""
    models = list(dict.fromkeys(hessian["model"]))
    fig, axes = plt.subplots(
        len(models), 3, figsize=(15, 5.2 * len(models)), squeeze=False, constrained_layout=True
    )
    for row, model in enumerate(models):
        ax_eq, ax_lam, ax_slq = axes[row]
        rows = hessian[hessian["model"] == model]
        title = MODEL_TITLES.get(model, model)
        for k, (opt, est) in enumerate(rows.groupby("optimizer", sort=False)):
            ls, who = STYLES[k % len(STYLES)], LABELS.get(opt, opt)
            for col, (label, colour, marker) in QUANTITIES.items():
                y = est[col].to_numpy(dtype=float)
                y = np.where(y > 0, y, np.nan)
                ax_eq.plot(
                    est["epoch"],
                    y,
                    ls=ls,
                    marker=marker,
                    ms=4,
                    color=colour,
                    label=f"{label}, along {who}",
                )
            ratio = est["ratio"].to_numpy(dtype=float)
            lo, hi = est["ratio_lo"].to_numpy(dtype=float), est["ratio_hi"].to_numpy(dtype=float)
            ok = np.isfinite(ratio) & np.isfinite(lo) & np.isfinite(hi) & (ratio > 0)
            ax_eq.errorbar(
                est["epoch"][ok],
                ratio[ok],
                yerr=[ratio[ok] - lo[ok], hi[ok] - ratio[ok]],
                fmt="none",
                ecolor="C0",
                capsize=3,
                alpha=0.6,
            )
            ax_lam.plot(
                est["epoch"],
                est["lambda_max"],
                ls=ls,
                marker="o",
                ms=4,
                color="C0",
                label=rf"$\lambda_{{max}}$, {who}",
            )
            ax_lam.plot(
                est["epoch"],
                -est["lambda_min"],
                ls=ls,
                marker="v",
                ms=4,
                color="C3",
                label=rf"$-\lambda_{{min}}$, {who}",
            )
            ax_lam.errorbar(
                est["epoch"],
                est["lambda_bar"],
                yerr=2 * est["lambda_bar_se"],
                ls=ls,
                marker=".",
                color="C2",
                capsize=2,
                label=rf"$\bar\lambda \pm 2$ se, {who}",
            )
            dens = density[(density["model"] == model) & (density["optimizer"] == opt)]
            if len(dens):
                last = dens[dens["epoch"] == dens["epoch"].max()]
                ax_slq.vlines(
                    last["node"],
                    1e-12,
                    last["weight"] / last["repeat"].nunique(),
                    color=f"C{k}",
                    alpha=0.7,
                    label=f"{who}, epoch {int(last['epoch'].iloc[0])}",
                )
        ax_eq.axhline(1.0, color="grey", lw=0.8)
        ax_eq.set_yscale("log")
        ax_eq.set(xlabel="epoch", title=f"{title}: premises of Eq. 13")
        ax_lam.set_yscale("symlog", linthresh=1e-6)
        ax_lam.set(xlabel="epoch", ylabel="eigenvalue", title=f"{title}: curvature")
        ax_slq.set_yscale("log")
        ax_slq.set_xscale("symlog", linthresh=1e-3)
        ax_slq.set_ylim(bottom=1e-8)
        nodes = density[density["model"] == model]["node"]
        if len(nodes):
            ax_slq.set_xticks(symlog_ticks(float(nodes.abs().max())))
            ax_slq.set_xlim(1.3 * min(nodes.min(), 0), 1.3 * max(nodes.max(), 0))
        ax_slq.set(
            xlabel=r"$\lambda$", ylabel="SLQ weight", title=f"{title}: spectral density (SLQ)"
        )
        for ax in (ax_eq, ax_lam, ax_slq):
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(0, -0.18), ncol=2)
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hessian", required=True)
    p.add_argument("--density", required=True)
    p.add_argument("--out", nargs="+", required=True)
    a = p.parse_args(argv)
    save_figure(draw_premises(read_table(a.hessian), read_table(a.density)), a.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
