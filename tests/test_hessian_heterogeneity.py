"""The block-heterogeneity statistic on hand-made per-block tables, and claim t5's verdicts
(``signgeom.analysis.transformer_hessian_claims``) through the claims engine."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from signgeom.analysis.hessian_heterogeneity import heterogeneity, last_snapshots, per_seed
from signgeom.analysis.settings import ClaimSettings
from signgeom.analysis.transformer_hessian_claims import cnn_value, compute_claims

REPO = Path(__file__).resolve().parents[1]
SETTINGS = ClaimSettings.from_config(yaml.safe_load((REPO / "config.yaml").read_text()))


def _blocks(model, optimizer, seed, epoch, lambda_max, lambda_bar=None):
    lambda_bar = lambda_max if lambda_bar is None else lambda_bar
    return pd.DataFrame(
        {
            "model": model,
            "optimizer": optimizer,
            "lr": 0.1,
            "seed": seed,
            "epoch": epoch,
            "block": [f"b{i}" for i in range(len(lambda_max))],
            "lambda_max": lambda_max,
            "lambda_bar": lambda_bar,
            "n_hvp": 18,
            "seconds": 0.5,
        }
    )


def test_spread_of_log_lambda_max_on_a_hand_made_table():
    # ln lambda_max = 0, ln 100 = 2 ln 10, and a non-positive block left out
    table = pd.concat(
        [
            _blocks("m", "sgd", 0, 5, [1.0, 100.0, -3.0], [1.0, 1.0, 2.0]),
            _blocks("m", "sgd", 0, 9, [2.0, 2.0, 2.0, 2.0]),
        ]
    )
    out = heterogeneity(table).set_index("epoch")
    assert out.loc[5, "sd_log_lambda_max"] == pytest.approx(math.log(10))  # std of {0, 2 ln 10}
    assert out.loc[5, "log10_range_lambda_max"] == pytest.approx(2.0)
    assert out.loc[5, "n_nonpositive"] == 1 and out.loc[5, "n_blocks"] == 3
    assert out.loc[5, "sd_log_lambda_bar"] == pytest.approx(np.std(np.log([1.0, 1.0, 2.0])))
    assert out.loc[9, "sd_log_lambda_max"] == 0.0  # equal blocks: no spread
    assert out.loc[9, "log10_range_lambda_max"] == 0.0
    assert out.loc[9, "n_hvp"] == 4 * 18 and out.loc[9, "seconds"] == pytest.approx(4 * 0.5)


def test_spread_is_scale_free_and_fewer_than_two_blocks_have_none():
    lam = np.array([0.3, 4.0, 17.0, 0.02])
    a = heterogeneity(_blocks("m", "sgd", 0, 1, lam))
    b = heterogeneity(_blocks("m", "sgd", 0, 1, 1000.0 * lam))
    assert a["sd_log_lambda_max"].iloc[0] == pytest.approx(b["sd_log_lambda_max"].iloc[0])
    one = heterogeneity(_blocks("m", "sgd", 0, 1, [5.0, 0.0]))
    assert math.isnan(one["sd_log_lambda_max"].iloc[0])


def test_per_seed_averages_snapshots_and_needs_every_trajectory():
    table = pd.DataFrame(
        {
            "model": "m",
            "optimizer": ["sgd", "sgd", "signsgd", "sgd"],
            "seed": [0, 0, 0, 1],
            "epoch": [5, 9, 9, 9],
            "sd_log_lambda_max": [1.0, 2.0, 6.0, 4.0],
        }
    )
    out = per_seed(table, "m", ["sgd", "signsgd"])
    assert out.to_dict() == {0: pytest.approx(3.0)}  # seed 1 has no signSGD row
    assert per_seed(table, "m", ["sgd"]).to_dict() == {0: 1.5, 1: 4.0}


def test_last_snapshots_keep_each_runs_last_epoch():
    table = pd.concat(
        [
            _blocks("m", "sgd", 1, 10, [1.0, 2.0]),
            _blocks("m", "sgd", 3, 8, [1.0, 2.0]),
            _blocks("m", "sgd", 3, 20, [1.0, 2.0]),
            _blocks("m", "signsgd", 3, 12, [1.0, 2.0]),
        ]
    )
    kept = last_snapshots(table).groupby(["optimizer", "seed"])["epoch"].unique()
    assert {k: list(v) for k, v in kept.items()} == {
        ("sgd", 1): [10], ("sgd", 3): [20], ("signsgd", 3): [12]
    }  # fmt: skip


def _het(model, values, optimizers=("sgd", "signsgd", "adam")):
    return pd.DataFrame(
        [
            dict(model=model, optimizer=o, lr=0.1, seed=s, epoch=15, sd_log_lambda_max=v)
            for s, v in values.items()
            for o in optimizers
        ]
    )


STEPS = pd.DataFrame(
    [
        dict(model=m, optimizer=o, lr=0.1, at_grid_edge=False, grid_min=0.01, grid_max=1.0)
        for m in ("tb8", "tb128")
        for o in ("sgd", "signsgd", "adam")
    ]
)
CNN = _het("cnn", {1: 0.5, 2: 0.6, 3: 0.55}, ("sgd", "signsgd"))


def test_t5_holds_fails_and_is_inconclusive_on_one_seed():
    het = pd.concat(
        [_het("tb8", {0: 2.0, 1: 2.2, 2: 2.1}), _het("tb128", {0: 0.2, 1: 0.25, 2: 0.22})]
    )
    table = compute_claims(het, CNN, STEPS, {"tb8": 8, "tb128": 128}, SETTINGS).set_index("claim")
    cnn = cnn_value(CNN, ["sgd", "signsgd"], SETTINGS.level)[0]
    assert cnn == pytest.approx(np.exp(np.mean(np.log([0.5, 0.6, 0.55]))))
    assert table.loc["t5_tb8", "verdict"] == "holds"
    assert table.loc["t5_tb8", "value"] == pytest.approx(np.exp(np.mean(np.log([2.0, 2.2, 2.1]))))
    assert float(table.loc["t5_tb8", "threshold"]) == pytest.approx(cnn, rel=1e-5)
    assert table.loc["t5_tb128", "verdict"] == "fails"
    assert "SGD-momentum, signSGD-momentum trajectories" in table.loc["t5_tb8", "statistic"]

    one = compute_claims(_het("tb8", {0: 2.0}), CNN, STEPS, {"tb8": 8}, SETTINGS)
    assert one["verdict"].tolist() == ["inconclusive"]
    assert "1 seed (min 3)" in one["note"].iloc[0]


def test_t5_refuses_a_cnn_table_without_the_shared_trajectories():
    cnn = _het("cnn", {1: 0.5}, ("sgd",)).assign(optimizer=["sgd"])
    het = _het("tb8", {0: 2.0, 1: 2.2, 2: 2.1}, ("signsgd",))
    with pytest.raises(ValueError, match="no claim"):  # no optimizer in common: no t5
        compute_claims(het, cnn, STEPS, {"tb8": 8}, SETTINGS)
