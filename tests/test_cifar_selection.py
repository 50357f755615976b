"""Step-size selection on hand-made metric tables."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from signgeom.analysis.selection import AllRunsDivergedError, StaleRunError, select_step_sizes
from signgeom.training.rundir import read_runs


def _run(model, opt, lr, seed, losses, status="completed"):
    rows = []
    for epoch, loss in enumerate(losses):
        rows.append(
            {
                "model": model,
                "optimizer": opt,
                "lr": lr,
                "seed": seed,
                "epoch": epoch,
                "train_loss": loss,
                "status": status,
                "diverged": status == "diverged" and epoch == len(losses) - 1,
            }
        )
    return rows


def _table():
    rows = []
    # sgd: lr 0.1 best (mean decrease over seeds 1.5), 1.0 diverged in one seed only.
    rows += _run("cnn", "sgd", 0.01, 0, [2.3, 2.0, 1.8])
    rows += _run("cnn", "sgd", 0.01, 1, [2.3, 2.1, 1.9])
    rows += _run("cnn", "sgd", 0.1, 0, [2.3, 1.2, 0.7])
    rows += _run("cnn", "sgd", 0.1, 1, [2.3, 1.4, 0.9])
    rows += _run("cnn", "sgd", 1.0, 0, [2.3, 0.1, 0.05])
    rows += _run("cnn", "sgd", 1.0, 1, [2.3, float("nan")], status="diverged")
    # signsgd: the largest lr wins -> grid edge; the largest-decrease one diverged.
    rows += _run("cnn", "signsgd", 1e-4, 0, [2.3, 2.2, 2.1])
    rows += _run("cnn", "signsgd", 1e-3, 0, [2.3, 1.0, 0.5])
    rows += _run("cnn", "signsgd", 1e-2, 0, [2.3, float("inf")], status="diverged")
    return pd.DataFrame(rows)


def test_picks_largest_mean_decrease_and_excludes_diverged(caplog):
    with caplog.at_level(logging.WARNING):
        out = select_step_sizes(_table(), epoch=2).set_index("optimizer")
    sgd = out.loc["sgd"]
    assert sgd["lr"] == 0.1
    assert sgd["train_loss_decrease"] == pytest.approx(1.5)
    assert not sgd["at_grid_edge"] and sgd["n_candidates"] == 2 and sgd["n_seeds"] == 2
    sign = out.loc["signsgd"]
    assert sign["lr"] == 1e-3
    assert sign["train_loss_decrease"] == pytest.approx(1.8)
    assert not sign["at_grid_edge"]  # 1e-2 (diverged) still belongs to the grid


def test_grid_edge_flag_and_warning(caplog):
    t = _table()
    t = t[~((t["optimizer"] == "signsgd") & (t["lr"] == 1e-2))]
    with caplog.at_level(logging.WARNING):
        out = select_step_sizes(t, epoch=2).set_index("optimizer")
    assert bool(out.loc["signsgd", "at_grid_edge"]) and out.loc["signsgd", "lr"] == 1e-3
    assert any("edge of the grid" in r.message and "signsgd" in r.message for r in caplog.records)


def test_a_run_that_stopped_before_the_selection_epoch_is_refused():
    # every completed run stops at epoch 2; the diverged ones stop earlier and are excluded
    message = r"run model=cnn optimizer=sgd lr=0\.01 seed=0 stopped at epoch 2 .*selection epoch 3"
    with pytest.raises(StaleRunError, match=message):
        select_step_sizes(_table(), epoch=3)
    # at epoch 1, lr 0.1 (mean decrease 1.0) still beats 0.01 (0.25)
    assert select_step_sizes(_table(), epoch=1).set_index("optimizer").loc["sgd", "lr"] == 0.1


def test_all_diverged_raises_naming_model_and_optimizer():
    t = _table()
    t = t[(t["optimizer"] != "signsgd") | (t["lr"] == 1e-2)]
    with pytest.raises(AllRunsDivergedError, match="cnn.*signsgd"):
        select_step_sizes(t, epoch=2)


def test_load_runs_from_status_and_metrics(tmp_path):
    for lr, final in [(0.1, 0.5), (1.0, 1.5)]:
        d = tmp_path / f"lr{lr}"
        d.mkdir()
        (d / "status.json").write_text(
            json.dumps(
                {"status": "completed", "model": "cnn", "optimizer": "sgd", "lr": lr, "seed": 0}
            )
        )
        pd.DataFrame(
            {"epoch": [0, 1], "train_loss": [2.0, final], "diverged": [False, False]}
        ).to_csv(d / "metrics.csv", index=False)
    runs = read_runs(sorted(tmp_path.rglob("status.json")))
    out = select_step_sizes(runs, epoch=1)
    assert out["lr"].tolist() == [0.1] and bool(out["at_grid_edge"].iloc[0])


def test_a_run_whose_loss_went_up_is_never_selected():
    rows = _run("cnn", "signsgd", 1e-4, 0, [2.3, 2.2, 2.25])
    rows += _run("cnn", "signsgd", 10.0, 0, [2.3, 2e16, 2e6])  # finite, "completed"
    chosen = select_step_sizes(pd.DataFrame(rows), epoch=2)
    assert chosen["lr"].tolist() == [1e-4]
    assert chosen["n_candidates"].tolist() == [1]


def test_a_grid_where_no_loss_decreased_stops_with_the_divergence_message():
    rows = _run("cnn", "signsgd", 10.0, 0, [2.3, 2e16, 2e6])
    rows += _run("cnn", "signsgd", 100.0, 0, [2.3, 2e22, 2.3])  # no change is no decrease
    with pytest.raises(AllRunsDivergedError, match="all step sizes diverged.*cnn.*signsgd"):
        select_step_sizes(pd.DataFrame(rows), epoch=2)
