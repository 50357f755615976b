"""What a figure draws, read back from its matplotlib artists and compared with the table it
is drawn from; shared by the unit tests (committed reference tables) and the workflow tests
(the tables the workflow wrote next to its figures)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from signgeom.plotting.bounds import PANELS, TIGHT, draw_bounds
from signgeom.plotting.figure2 import RATIO_CLIP, draw_figure2
from signgeom.plotting.figure3 import draw_figure3
from signgeom.plotting.premises import LABELS, QUANTITIES, draw_premises
from signgeom.plotting.saddles import LABELS as SADDLE_LABELS
from signgeom.plotting.saddles import draw_saddles
from signgeom.quadratic.saddle_runs import shown_rotations
from signgeom.quadratic.saddles import Tube

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}


def assert_image_files(paths: Iterable[Path]) -> None:
    """Each file holds an image of the format its suffix names."""
    for path in map(Path, paths):
        magic = MAGIC[path.suffix]
        assert path.read_bytes()[: len(magic)] == magic, f"{path} is no {path.suffix} file"


def _cells(summary: pd.DataFrame, column: str) -> np.ndarray:
    """``values[ratio, theta]``, both sorted ascending (the heatmaps' layout)."""
    table = summary.pivot_table(index="lambda_ratio", columns="theta", values=column)
    return table.sort_index().sort_index(axis=1).to_numpy()


def assert_figure2_draws(summary: pd.DataFrame) -> None:
    """Figure 2's left heatmap is ``L_inf / L_2`` per cell, the right one the distance ratio
    clipped to the colour range."""
    fig = draw_figure2(summary)
    ax_linf, ax_dist = fig.axes[:2]  # then the two colour bars
    expected = {
        ax_linf: _cells(summary, "linf_over_l2"),
        ax_dist: np.clip(_cells(summary, "dist_ratio"), *RATIO_CLIP),
    }
    for ax, values in expected.items():
        mesh = ax.collections[0]
        drawn = np.asarray(mesh.get_array()).reshape(values.shape)
        np.testing.assert_allclose(drawn, values, rtol=1e-12)
    plt.close(fig)


def assert_bounds_draw(separable: pd.DataFrame, family: str = "any") -> None:
    """Each panel of the bounds figure colours a (ratio, theta) cell by the mean over its
    rotations, from 1 up; its title gives the largest ratio over the Hessians."""
    fig = draw_bounds(separable, family)
    for ax, column in zip(fig.axes[:2], PANELS, strict=True):
        means = separable.pivot_table(index="lambda_ratio", columns="theta", values=column)
        (mesh,) = ax.collections
        drawn = np.asarray(mesh.get_array()).reshape(means.shape)
        np.testing.assert_allclose(drawn, means.to_numpy(), rtol=1e-12)
        edges = mesh.get_coordinates()  # (ratios + 1, thetas + 1, 2): each centre inside
        assert np.all((edges[0, :-1, 0] < means.columns) & (means.columns < edges[0, 1:, 0]))
        assert np.all((edges[:-1, 0, 1] < means.index) & (means.index < edges[1:, 0, 1]))
        assert mesh.norm.vmin == 1.0
        worst = separable[column].max()
        tight = worst - 1 <= TIGHT
        assert ax.get_title().endswith(
            "= 1 on every Hessian" if tight else f"(max over Hessians {worst:.4g})"
        )
    plt.close(fig)


def _geometric_mean(table: pd.DataFrame, value: str) -> tuple[np.ndarray, np.ndarray]:
    per_epoch = table.groupby("epoch")[value].apply(lambda v: np.exp(np.log(v).mean()))
    return per_epoch.index.to_numpy(), per_epoch.to_numpy()


def assert_figure3_draws(
    step_sizes: pd.DataFrame, smoothness: pd.DataFrame, metrics: pd.DataFrame
) -> None:
    """Per model and optimizer: every seed's training loss and ``R_hat`` (faint) and their
    geometric means over the seeds (solid, labelled)."""
    fig = draw_figure3(step_sizes, smoothness, metrics)
    models = list(dict.fromkeys(step_sizes["model"]))
    axes = np.array(fig.axes).reshape(len(models), 2)
    selected = metrics[metrics["selected"].astype(bool)]
    for (ax_loss, ax_ratio), model in zip(axes, models, strict=True):
        for opt in step_sizes[step_sizes["model"] == model]["optimizer"]:
            who = LABELS.get(opt, opt)
            runs = selected[(selected["model"] == model) & (selected["optimizer"] == opt)]
            est = smoothness[(smoothness["model"] == model) & (smoothness["optimizer"] == opt)]
            for ax, table, value, prefix in (
                (ax_loss, runs, "train_loss", f"{who}, lr="),
                (ax_ratio, est, "R_hat", f"along {who}"),
            ):
                (mean,) = [ln for ln in ax.get_lines() if ln.get_label().startswith(prefix)]
                epochs, expected = _geometric_mean(table, value)
                np.testing.assert_array_equal(mean.get_xdata(), epochs)
                np.testing.assert_allclose(mean.get_ydata(), expected, rtol=1e-12)
                faint = [tuple(ln.get_ydata()) for ln in ax.get_lines() if ln.get_alpha()]
                for _, run in table.groupby("seed"):
                    assert tuple(run.sort_values("epoch")[value]) in faint, (model, opt, value)
    plt.close(fig)


def assert_premises_draw(hessian: pd.DataFrame, density: pd.DataFrame) -> None:
    """Per model: each premise quantity (positive values) and ``lambda_max``, ``-lambda_min``
    along every trajectory, and the SLQ weights of the last epoch."""
    fig = draw_premises(hessian, density)
    models = list(dict.fromkeys(hessian["model"]))
    axes = np.array(fig.axes).reshape(len(models), 3)
    for (ax_eq, ax_lam, ax_slq), model in zip(axes, models, strict=True):
        drawn = {ln.get_label(): ln for ax in (ax_eq, ax_lam) for ln in ax.get_lines()}
        for opt, est in hessian[hessian["model"] == model].groupby("optimizer"):
            who = LABELS.get(opt, opt)
            for column, (label, _, _) in QUANTITIES.items():
                y = est[column].to_numpy(dtype=float)
                line = drawn[f"{label}, along {who}"]
                np.testing.assert_array_equal(line.get_xdata(), est["epoch"])
                np.testing.assert_array_equal(line.get_ydata(), np.where(y > 0, y, np.nan))
            lam_max = drawn[rf"$\lambda_{{max}}$, {who}"].get_ydata()
            np.testing.assert_array_equal(lam_max, est["lambda_max"])
            lam_min = drawn[rf"$-\lambda_{{min}}$, {who}"].get_ydata()
            np.testing.assert_array_equal(lam_min, -est["lambda_min"])
            dens = density[(density["model"] == model) & (density["optimizer"] == opt)]
            if len(dens):
                last = dens[dens["epoch"] == dens["epoch"].max()]
                (spikes,) = [c for c in ax_slq.collections if c.get_label().startswith(who)]
                tops = np.array([seg[1] for seg in spikes.get_segments()])
                weight = last["weight"] / last["repeat"].nunique()
                np.testing.assert_allclose(tops, np.column_stack([last["node"], weight]))
    plt.close(fig)


def assert_saddles_draw(table: pd.DataFrame, traces: pd.DataFrame, tube: Tube) -> None:
    """One panel per shown rotation: every method's objective per iteration (ending at the
    table's final objective) and the saddle levels ``-k nu``, ``k = 0..d``."""
    fig = draw_saddles(table, traces, tube)
    method_of = {label: method for method, label in SADDLE_LABELS.items()}
    shown = shown_rotations(table, tube.dim)
    for ax, rotation in zip(fig.axes, shown.values(), strict=True):
        drawn = [ln for ln in ax.get_lines() if ln.get_label() in method_of]
        assert {method_of[ln.get_label()] for ln in drawn} == set(table["method"])
        for line in drawn:
            method = method_of[line.get_label()]
            part = traces[(traces["method"] == method) & (traces["rotation"] == rotation)]
            np.testing.assert_array_equal(line.get_xdata(), part["step"])
            np.testing.assert_array_equal(line.get_ydata(), part["objective"])
            row = table[(table["method"] == method) & (table["rotation"] == rotation)]
            assert line.get_ydata()[-1] == row["final_objective"].iloc[0]
        levels = sorted(ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_linestyle() == ":")
        np.testing.assert_allclose(levels, -tube.nu * np.arange(tube.dim, -1, -1))
    plt.close(fig)
