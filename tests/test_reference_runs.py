"""The committed reference runs (results/reference/<preset>/) are well formed and consistent
with the committed preset they claim to come from."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from signgeom.workflow import REPO

REFERENCES = ["subset", "subset-long"]
STEP_COLUMNS = {"model", "optimizer", "lr", "at_grid_edge", "final_test_acc"}
SMOOTH_COLUMNS = {"model", "optimizer", "epoch", "phi", "L2_hat", "Linf_hat", "R_hat", "d"}
METRIC_COLUMNS = {"model", "optimizer", "lr", "seed", "epoch", "train_loss", "test_acc"}


def _load(name: str):
    ref = REPO / "results" / "reference" / name
    preset = yaml.safe_load((REPO / "presets" / f"{name}.yaml").read_text())["cifar"]
    tables = {t: pd.read_csv(ref / f"{t}.csv") for t in ("step_sizes", "smoothness", "metrics")}
    return ref, preset, tables


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_tables_match_their_preset(name):
    ref, preset, t = _load(name)
    for f in ("figure3.png", "figure3.pdf", "provenance.json"):
        assert (ref / f).stat().st_size > 0, f
    steps, smooth, metrics = t["step_sizes"], t["smoothness"], t["metrics"]
    assert STEP_COLUMNS <= set(steps.columns)
    assert SMOOTH_COLUMNS <= set(smooth.columns)
    assert METRIC_COLUMNS <= set(metrics.columns)
    models = preset["models"]
    expected = {(m, o) for m, spec in models.items() for o in spec["step_sizes"]}
    assert set(zip(steps["model"], steps["optimizer"], strict=True)) == expected
    for row in steps.itertuples():
        grid = models[row.model]["step_sizes"][row.optimizer]
        assert any(math.isclose(row.lr, g) for g in grid), (row.model, row.optimizer, row.lr)
        assert 0 <= row.final_test_acc <= 1
        runs = metrics[(metrics["model"] == row.model) & (metrics["optimizer"] == row.optimizer)]
        assert {float(v) for v in runs["lr"]} == {float(v) for v in grid}
        chosen = runs[runs["lr"] == row.lr]
        assert chosen["selected"].all() and (chosen["status"] == "completed").all()
        assert chosen["epoch"].max() == models[row.model]["epochs"]
        assert chosen["train_loss"].iloc[-1] < chosen["train_loss"].iloc[0]  # it went down
    stride = preset["smoothness"]["stride"]
    for (model, _), g in smooth.groupby(["model", "optimizer"]):
        epochs = models[model]["epochs"]
        assert sorted(g["epoch"]) == sorted({*range(0, epochs + 1, stride), epochs})
        assert (g["R_hat"] > 0).all() and g["R_hat"].map(math.isfinite).all()
    assert not metrics[metrics["selected"]]["status"].eq("diverged").any()
