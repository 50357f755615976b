"""Figure 5's table and figure from synthetic runs and estimates: factors matched to the selected
step sizes, best factor per theta (diverged runs never), R_hat statistics over epochs, theta = 0
from Figure 3's estimates, and the numbers drawn."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from signgeom.analysis.rotation_table import read_statuses, rotated_lr, rotation_table
from signgeom.plotting.figure5 import draw_figure5

FACTORS = [0.333333, 1.0, 3.0]
STEP_SIZES = pd.DataFrame({"model": ["cnn", "cnn"], "optimizer": ["sgd", "signsgd"]})
STEP_SIZES["lr"] = [0.01, 0.0001]
LOSSES = {  # (optimizer, theta) -> final loss per factor; None: diverged
    ("sgd", 0.0): [0.9, 0.5, 0.7],
    ("sgd", 1.0): [0.9, 0.5, 0.6],
    ("signsgd", 0.0): [0.8, 0.4, None],
    ("signsgd", 1.0): [0.6, 0.7, None],
}


def _status_files(tmp_path):
    paths = []
    for (opt, theta), losses in LOSSES.items():
        base = float(STEP_SIZES.set_index("optimizer").loc[opt, "lr"])
        for factor, loss in zip(FACTORS, losses, strict=True):
            status = {"model": "cnn", "optimizer": opt, "lr": rotated_lr(base, factor)}
            status |= {"seed": 0, "epochs_completed": 3 if loss else 1, "final_train_loss": loss}
            status["status"] = "completed" if loss else "diverged"
            if theta:
                status |= {"rotation_theta": theta, "rotation_block_size": 16}
            path = tmp_path / f"{opt}_{theta}_{factor}.json"
            path.write_text(json.dumps(status))
            paths.append(path)
    return paths


def _estimates():
    rng = np.random.default_rng(0)
    plain = []
    for opt, lr in [("sgd", 0.01), ("sgd", 0.03), ("signsgd", 0.0001)]:
        for seed in (0, 1):
            for epoch in range(5):
                row = {"model": "cnn", "optimizer": opt, "lr": lr, "seed": seed, "epoch": epoch}
                plain.append(row | {"R_hat": rng.uniform(1, 5), "phi": 0.5})
                plain[-1] |= {"L2_hat": 1.0, "Linf_hat": 2.0}
    rotated = []
    for opt in ("sgd", "signsgd"):
        for epoch in range(4):
            row = {"model": "cnn", "optimizer": opt, "seed": 0, "epoch": epoch}
            row["rotation_theta"] = 1.0
            r_hat = np.nan if epoch == 3 else rng.uniform(0.1, 1)
            rotated.append(row | {"R_hat": r_hat, "phi": 0.2, "L2_hat": 1.0, "Linf_hat": 9.0})
    return pd.DataFrame(plain), pd.DataFrame(rotated)


@pytest.fixture
def table(tmp_path):
    plain, rotated = _estimates()
    runs = read_statuses(_status_files(tmp_path))
    return rotation_table(runs, STEP_SIZES, FACTORS, rotated, plain, 16), plain, rotated


def test_rotated_lr_keeps_the_selected_step_and_rounds_the_others():
    assert rotated_lr(0.00316, 1.0) == 0.00316
    assert rotated_lr(0.01, 0.333333) == 0.00333333


def test_factors_best_and_r_hat_statistics(table):
    table, plain, rotated = table
    assert len(table) == 12
    sgd0 = table[(table["optimizer"] == "sgd") & (table["theta"] == 0.0)]
    assert sgd0["lr_factor"].tolist() == FACTORS
    assert sgd0["final_train_loss"].tolist() == LOSSES[("sgd", 0.0)]
    best = table[table["best"]].set_index(["optimizer", "theta"])["lr_factor"]
    assert best.to_dict() == {
        ("sgd", 0.0): 1.0,
        ("sgd", 1.0): 1.0,
        ("signsgd", 0.0): 1.0,
        ("signsgd", 1.0): 0.333333,
    }
    diverged = table[table["status"] == "diverged"]
    assert len(diverged) == 2 and diverged["final_train_loss"].isna().all()
    assert not diverged["best"].any()
    assert table.loc[table["theta"] == 0, "block_size"].isna().all()
    assert (table.loc[table["theta"] == 1, "block_size"] == 16).all()

    # theta = 0: Figure 3's estimates of the selected run on seed 0 only (not lr 0.03, seed 1)
    row = sgd0[sgd0["lr_factor"] == 1.0].iloc[0]
    expected = plain[(plain["optimizer"] == "sgd") & (plain["lr"] == 0.01) & (plain["seed"] == 0)]
    r = expected["R_hat"].to_numpy()
    assert row["n_estimates"] == 5
    assert row["R_hat_median"] == pytest.approx(np.median(r))
    assert row["R_hat_q25"] == pytest.approx(np.quantile(r, 0.25))
    assert row["R_hat_q75"] == pytest.approx(np.quantile(r, 0.75))
    assert (row["R_hat_min"], row["R_hat_max"]) == (r.min(), r.max())
    # theta = 1: the rotated estimates, the non-finite one left out
    row = table[(table["optimizer"] == "signsgd") & (table["theta"] == 1.0)]
    row = row[row["lr_factor"] == 1.0].iloc[0]
    r = rotated[rotated["optimizer"] == "signsgd"]["R_hat"].dropna().to_numpy()
    assert row["n_estimates"] == 3 and row["R_hat_median"] == pytest.approx(np.median(r))
    assert row["Linf_hat_median"] == 9.0
    assert table.loc[table["lr_factor"] != 1.0, "R_hat_median"].isna().all()


def test_a_run_off_the_factor_grid_is_refused(tmp_path):
    runs = read_statuses(_status_files(tmp_path))
    runs.loc[0, "lr"] = 0.005
    plain, rotated = _estimates()
    with pytest.raises(ValueError, match="not the selected step size"):
        rotation_table(runs, STEP_SIZES, FACTORS, rotated, plain, 16)


def test_figure5_draws_the_table_numbers(table):
    table = table[0]
    fig = draw_figure5(table)
    ax_loss, ax_ratio = fig.axes[:2]
    lines = {line.get_label(): line for line in ax_loss.lines}
    fixed = table[(table["optimizer"] == "signsgd") & (table["lr_factor"] == 1.0)]
    line = lines["signSGD (momentum), selected step"]
    assert list(line.get_xdata()) == fixed["theta"].tolist()
    assert list(line.get_ydata()) == fixed["final_train_loss"].tolist()
    best = table[(table["optimizer"] == "signsgd") & table["best"]].sort_values("theta")
    line = lines["signSGD (momentum), best step factor"]
    assert list(line.get_ydata()) == best["final_train_loss"].tolist() == [0.4, 0.6]
    ratio = {line.get_label(): line for line in ax_ratio.lines}["along SGD (momentum)"]
    sgd = table[(table["optimizer"] == "sgd") & (table["lr_factor"] == 1.0)]
    assert list(ratio.get_ydata()) == sgd["R_hat_median"].tolist()
    band = ax_ratio.collections[0].get_paths()[0].vertices
    assert set(np.round(band[:, 1], 12)) >= set(np.round(sgd["R_hat_q25"], 12))
    assert set(np.round(band[:, 1], 12)) >= set(np.round(sgd["R_hat_q75"], 12))


def test_two_seeds_keep_their_own_best_and_estimates_and_the_figure_draws_their_median(tmp_path):
    paths = _status_files(tmp_path)
    for path in list(paths):  # seed 1: every loss doubled, except signSGD at theta 1, factor 1/3
        status = json.loads(path.read_text())
        status["seed"] = 1
        if status["final_train_loss"] is not None:
            signsgd1 = status["optimizer"] == "signsgd" and status.get("rotation_theta") == 1.0
            third = signsgd1 and path.name.endswith("_0.333333.json")
            status["final_train_loss"] *= 10 if third else 2
        copy = path.with_name(f"seed1_{path.name}")
        copy.write_text(json.dumps(status))
        paths.append(copy)
    plain, rotated = _estimates()
    rotated1 = rotated.assign(seed=1, R_hat=rotated["R_hat"] * 4)
    rotated = pd.concat([rotated, rotated1], ignore_index=True)
    table = rotation_table(read_statuses(paths), STEP_SIZES, FACTORS, rotated, plain, 16)
    assert len(table) == 24 and sorted(table["seed"].unique()) == [0, 1]
    best = table[table["best"]].set_index(["optimizer", "seed", "theta"])["lr_factor"]
    # seed 1's signSGD at theta 1: factor 1/3 costs 10x, so factor 1 (0.7 x 2) is its best
    assert best[("signsgd", 0, 1.0)] == 0.333333 and best[("signsgd", 1, 1.0)] == 1.0
    assert best[("sgd", 1, 0.0)] == 1.0
    rows = table[(table["optimizer"] == "sgd") & (table["theta"] == 1.0) & table["lr_factor"].eq(1)]
    r0 = rotated[(rotated["optimizer"] == "sgd") & (rotated["seed"] == 0)]["R_hat"].dropna()
    assert rows.set_index("seed")["R_hat_median"].to_dict() == pytest.approx(
        {0: np.median(r0), 1: 4 * np.median(r0)}
    )
    # theta 0 per seed: each seed's own plain estimates of the selected run
    rows = table[(table["optimizer"] == "sgd") & (table["theta"] == 0.0) & table["lr_factor"].eq(1)]
    for seed, value in rows.set_index("seed")["R_hat_median"].items():
        own = plain[(plain["optimizer"] == "sgd") & (plain["lr"] == 0.01) & (plain["seed"] == seed)]
        assert value == pytest.approx(np.median(own["R_hat"]))

    fig = draw_figure5(table)
    ax_loss, ax_ratio = fig.axes[:2]
    line = {ln.get_label(): ln for ln in ax_loss.lines}["SGD (momentum), selected step"]
    fixed = table[(table["optimizer"] == "sgd") & (table["lr_factor"] == 1.0)]
    medians = fixed.groupby("theta")["final_train_loss"].median()
    assert list(line.get_xdata()) == medians.index.tolist() == [0.0, 1.0]
    assert list(line.get_ydata()) == pytest.approx([0.5 * 1.5, 0.5 * 1.5])
    line = {ln.get_label(): ln for ln in ax_ratio.lines}["along SGD (momentum)"]
    assert list(line.get_ydata()) == pytest.approx(
        fixed.groupby("theta")["R_hat_median"].median().tolist()
    )


def test_theta_zero_reads_the_headline_probe_option_only(tmp_path, table):
    """Figure 3's table with robustness rows (another probe option, other R_hat) gives the
    same rotation table as its headline rows alone."""
    table, plain, rotated = table
    heavy = plain.assign(probe_step="heavy_ball", R_hat=plain["R_hat"] * 3)
    mixed = pd.concat([heavy, plain.assign(probe_step="raw")], ignore_index=True)
    runs = read_statuses(_status_files(tmp_path))
    again = rotation_table(runs, STEP_SIZES, FACTORS, rotated, mixed, 16)
    pd.testing.assert_frame_equal(again, table)
