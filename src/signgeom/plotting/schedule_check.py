"""Schedule check figure: per trajectory (columns) and model (rows), R_hat estimated at every
epoch (line), at the schedule's epochs (markers) and the curve through those (dashed, log-linear
interpolation) and, where the table has it, the trend (the rolling geometric mean), on a log
axis with ``R = 1`` marked.

Its table: :mod:`signgeom.analysis.schedule_check`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from signgeom.cli import run_cli  # noqa: E402
from signgeom.io import read_table  # noqa: E402
from signgeom.plotting import panel_grid, save_figure  # noqa: E402
from signgeom.plotting.figure3 import LABELS, MODEL_TITLES, plain_log_axis  # noqa: E402


def draw_schedule_check(comparison: pd.DataFrame) -> plt.Figure:
    """The panels of the module docstring (one line set per seed)."""
    models = list(dict.fromkeys(comparison["model"]))
    optimizers = list(dict.fromkeys(comparison["optimizer"]))
    fig, axes = panel_grid(len(models), len(optimizers))
    for i, model in enumerate(models):
        for j, opt in enumerate(optimizers):
            ax = axes[i][j]
            part = comparison[(comparison["model"] == model) & (comparison["optimizer"] == opt)]
            for seed, traj in part.groupby("seed"):
                traj = traj.sort_values("epoch")
                on = traj[traj["scheduled"].astype(bool)]
                ax.plot(traj["epoch"], traj["R_hat"], "-", color="0.6",
                        label=f"every epoch (seed {seed})")  # fmt: skip
                ax.plot(traj["epoch"], traj["R_hat_schedule"], "--", color="C0",
                        label="through the schedule's points")  # fmt: skip
                ax.plot(on["epoch"], on["R_hat"], "o", color="C0", ms=4,
                        label=f"schedule ({len(on)} of {len(traj)} epochs)")  # fmt: skip
                if "R_hat_trend" in traj:
                    ax.plot(traj["epoch"], traj["R_hat_trend"], "-", color="k", lw=1.5,
                            label="trend (rolling geometric mean)")  # fmt: skip
            ax.axhline(1.0, color="k", ls=":", lw=1)
            plain_log_axis(ax)
            title = f"{MODEL_TITLES.get(model, model)}, along {LABELS.get(opt, opt)}"
            ax.set(xlabel="epoch", ylabel=r"$\hat R$")
            ax.set_title(title, fontsize=9)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize=7)
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, required=True, help="schedule_check comparison")
    parser.add_argument("--out", type=Path, nargs="+", required=True)
    args = parser.parse_args(argv)
    save_figure(draw_schedule_check(read_table(args.table)), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
