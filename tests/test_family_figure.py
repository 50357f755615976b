"""The sign-family table and figure: aggregation over seeds, and the figure draws the table."""

import numpy as np
import pandas as pd
import pytest

from signgeom.analysis.family import family_models, family_table
from signgeom.plotting.figure3_family import draw_family, line_gid

OPTS = {"sgd": 0.1, "signsgd": 0.001, "adam": 0.001, "lion": 0.0003, "muon": 0.03}


def _tables(seeds=(0, 1)):
    rng = np.random.default_rng(0)
    metrics, sims = [], []
    for opt, lr in OPTS.items():
        for other_lr, selected in ((lr, True), (lr * 10, False)):
            for seed in seeds:
                for epoch in range(4):
                    loss = float(2.3 * np.exp(-0.3 * epoch) + rng.uniform(0, 0.05))
                    metrics.append(
                        {"model": "cnn", "optimizer": opt, "lr": other_lr, "seed": seed,
                         "epoch": epoch, "train_loss": loss, "diverged": False,
                         "selected": selected}
                    )  # fmt: skip
        for seed in seeds:
            for epoch in (0, 2, 3):
                sims.append(
                    {"model": "cnn", "optimizer": opt, "lr": lr, "seed": seed, "epoch": epoch,
                     "sign_agreement": rng.uniform(0.5, 1), "cosine": rng.uniform(0, 1)}
                )  # fmt: skip
    return pd.DataFrame(metrics), pd.DataFrame(sims)


def test_family_models_are_those_beyond_the_paper_pair():
    models = {
        "cnn": {"step_sizes": {"sgd": [1], "signsgd": [1], "lion": [1]}},
        "resnet20": {"step_sizes": {"sgd": [1], "signsgd": [1]}},
    }
    assert family_models(models) == ["cnn"]


def test_family_table_summarises_seeds_of_the_selected_runs():
    metrics, sims = _tables()
    table = family_table(metrics, sims, ["cnn"])
    row = table[(table.optimizer == "lion") & (table.quantity == "sign_agreement")]
    row = row[row.epoch == 2].iloc[0]
    vals = sims[(sims.optimizer == "lion") & (sims.epoch == 2)]["sign_agreement"]
    assert (row["mean"], row["lo"], row["hi"], row["n_seeds"]) == pytest.approx(
        (vals.mean(), vals.min(), vals.max(), 2)
    )
    loss = table[(table.optimizer == "adam") & (table.quantity == "train_loss")]
    assert list(loss["epoch"]) == [0, 1, 2, 3]
    assert set(loss["lr"]) == {OPTS["adam"]}  # the selected step size only
    chosen = metrics[(metrics.optimizer == "adam") & metrics.selected & (metrics.epoch == 3)]
    assert loss["mean"].iloc[-1] == pytest.approx(chosen["train_loss"].mean())


def test_family_table_refuses_a_selected_run_without_similarity():
    metrics, sims = _tables()
    with pytest.raises(ValueError, match="muon"):
        family_table(metrics, sims[sims.optimizer != "muon"], ["cnn"])


def test_family_figure_draws_the_table():
    metrics, sims = _tables()
    table = family_table(metrics, sims, ["cnn"])
    fig = draw_family(table)
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.get_lines()}
    groups = table.groupby(["model", "optimizer", "quantity"])
    assert len(lines) == groups.ngroups == len(OPTS) * 3
    for (model, opt, quantity), rows in groups:
        line = lines[line_gid(model, opt, quantity)]
        rows = rows.sort_values("epoch")
        np.testing.assert_array_equal(line.get_xdata(), rows["epoch"].to_numpy())
        np.testing.assert_array_equal(line.get_ydata(), rows["mean"].to_numpy())
    bands = {c.get_gid(): c for ax in fig.axes for c in ax.collections}
    assert len(bands) == len(OPTS) * 3  # two seeds: a band per line
    for (model, opt, quantity), rows in groups:
        ys = bands[line_gid(model, opt, quantity) + "/band"].get_paths()[0].vertices[:, 1]
        expected = np.concatenate([rows["lo"].to_numpy(), rows["hi"].to_numpy()])
        np.testing.assert_array_equal(np.unique(ys), np.unique(expected))


def test_one_seed_draws_no_band():
    metrics, sims = _tables(seeds=(0,))
    fig = draw_family(family_table(metrics, sims, ["cnn"]))
    assert not [c for ax in fig.axes for c in ax.collections]


def test_family_table_without_family_models_says_so():
    metrics, sims = _tables()
    with pytest.raises(ValueError, match="beyond sgd and signsgd"):
        family_table(metrics, sims, [])
