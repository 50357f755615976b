"""The transformer claims (``signgeom.analysis.transformer_claims``) on small fixture tables
whose ratios are known in closed form: losses that keep a fixed ratio to SGD's at every epoch,
R_hat constant along each trajectory."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from signgeom.analysis.settings import ClaimSettings
from signgeom.analysis.transformer_claims import (
    cnn_loss_ratio,
    compute_claims,
    final_losses,
    main,
)

REPO = Path(__file__).resolve().parents[1]
SETTINGS = ClaimSettings.from_config(yaml.safe_load((REPO / "config.yaml").read_text()))
EPOCHS = 10
OPTIMIZERS = ("sgd", "signsgd", "adam")
BATCHES = {"tb8": 8, "tb128": 128}
CNN = 1.5


def _tables(ratios, rhats, seeds=(0, 1, 2)):
    """Per model: the selected runs of each seed, with SGD's loss ``ratios[model][opt][s]``
    times ``opt``'s at every epoch after 0, and R_hat ``rhats[model][s]`` at epochs 0, 2, ..."""
    metrics, smooth, steps = [], [], []
    for model in BATCHES:
        for seed in seeds:
            for opt in OPTIMIZERS:
                factor = 1.0 if opt == "sgd" else 1 / ratios[model][opt][seed]
                for epoch in range(EPOCHS + 1):
                    loss = 2.0 * np.exp(-0.1 * epoch) * factor
                    metrics.append(
                        dict(model=model, optimizer=opt, lr=0.01, seed=seed, epoch=epoch,
                             train_loss=4.6 if epoch == 0 else loss, diverged=False,
                             status="completed", selected=True, train_loss_eval=loss,
                             test_loss=1.1 * loss, test_acc=0.3)
                    )  # fmt: skip
                for epoch in range(0, EPOCHS + 1, 2):
                    smooth.append(dict(model=model, optimizer=opt, seed=seed, epoch=epoch,
                                       R_hat=rhats[model][seed], phi=0.1))  # fmt: skip
        for opt in OPTIMIZERS:
            steps.append(dict(model=model, optimizer=opt, lr=0.01, at_grid_edge=False,
                              grid_min=0.001, grid_max=0.1))  # fmt: skip
    return pd.DataFrame(metrics), pd.DataFrame(smooth), pd.DataFrame(steps)


def _ratios(small, large):
    return {"tb8": {"signsgd": small, "adam": small}, "tb128": {"signsgd": large, "adam": large}}


def claims(metrics, smooth, steps, batches=BATCHES, cnn=CNN):
    return compute_claims(metrics, smooth, steps, batches, cnn, SETTINGS).set_index("claim")


GOOD = _tables(_ratios([1.2, 1.3, 1.25], [2.0, 2.4, 2.2]), {m: [1.5, 1.7, 1.6] for m in BATCHES})


def test_each_ratio_is_the_closed_form_and_the_verdicts_follow():
    table = claims(*GOOD)
    small, large = np.array([1.2, 1.3, 1.25]), np.array([2.0, 2.4, 2.2])
    geo = lambda x: float(np.exp(np.mean(np.log(x))))  # noqa: E731
    for opt in ("signsgd", "adam"):
        assert table.loc[f"t1_{opt}_tb8", "value"] == pytest.approx(geo(small))
        assert table.loc[f"t1_{opt}_tb128", "verdict"] == "holds"
        # the batch-8 ratio (about 1.25) is below the CNN's 1.5; the batch-128 one above it
        assert table.loc[f"t1_{opt}_vs_cnn_tb8", "verdict"] == "fails"
        assert table.loc[f"t1_{opt}_vs_cnn_tb128", "verdict"] == "holds"
        assert table.loc[f"t1_{opt}_vs_cnn_tb8", "threshold"] == "1.5"
        assert table.loc[f"t3_{opt}", "value"] == pytest.approx(geo(large / small))
        assert table.loc[f"t3_{opt}", "verdict"] == "holds"
        assert table.loc[f"t3_{opt}", "model"] == "tb128"  # declared under the large batch
    assert table.loc["t2_rhat_tb8", "value"] == pytest.approx(geo([1.5, 1.7, 1.6]))
    assert (table["n_seeds"] == 3).all() and (table["note"] == "").all()
    assert "t3_signsgd" not in table[table["model"] == "tb8"].index


def test_a_gap_that_shrinks_with_the_batch_fails_t3():
    metrics, smooth, steps = _tables(_ratios([2.0, 2.4, 2.2], [1.2, 1.3, 1.25]),
                                     {m: [1.5, 1.7, 1.6] for m in BATCHES})  # fmt: skip
    assert claims(metrics, smooth, steps).loc["t3_adam", "verdict"] == "fails"


def test_rhat_below_one_fails_t2():
    metrics, smooth, steps = _tables(_ratios([1.2, 1.3, 1.25], [2.0, 2.4, 2.2]),
                                     {m: [0.5, 0.6, 0.55] for m in BATCHES})  # fmt: skip
    assert claims(metrics, smooth, steps).loc["t2_rhat_tb128", "verdict"] == "fails"


def test_one_seed_gives_no_verdict():
    table = claims(*_tables(_ratios([1.2], [2.0]), {m: [1.5] for m in BATCHES}, seeds=(0,)))
    assert (table["verdict"] == "inconclusive").all()
    assert table["note"].str.contains(r"1 seed \(min 3\): no verdict").all()
    assert table.loc["t1_adam_tb8", "value"] == pytest.approx(1.2)


def test_nan_rows_exclude_the_seed_from_every_claim_of_its_model():
    metrics, smooth, steps = GOOD
    smooth = smooth.copy()
    smooth.loc[(smooth["model"] == "tb8") & (smooth["seed"] == 1), "R_hat"] = math.nan
    table = claims(metrics, smooth, steps)
    small = table[table["model"] == "tb8"]
    assert (small["n_seeds"] == 2).all() and (small["excluded"] == "1").all()
    assert (small["verdict"] == "inconclusive").all()
    assert (table.loc["t2_rhat_tb128", "n_seeds"] == 3)


def test_a_diverged_seed_is_excluded_and_named():
    metrics, smooth, steps = GOOD
    metrics = metrics.copy()
    bad = (metrics["model"] == "tb128") & (metrics["seed"] == 2) & (metrics["optimizer"] == "sgd")
    metrics["train_loss"] = metrics["train_loss"].astype(object)
    metrics.loc[bad & (metrics["epoch"] >= 8), ["train_loss", "diverged"]] = [math.nan, True]
    table = claims(metrics, smooth, steps)
    large = table[table["model"] == "tb128"]
    assert (large["excluded"] == "2").all()
    assert large["note"].str.contains("seed 2 excluded: sgd").all()
    assert (large["verdict"] == "inconclusive").all()  # 2 seeds left, min 3
    assert (table[table["model"] == "tb8"]["n_seeds"] == 3).all()


def test_a_model_without_adam_gets_signsgd_claims_only():
    metrics, smooth, steps = GOOD
    keep = lambda t: t[t["optimizer"] != "adam"]  # noqa: E731
    table = claims(keep(metrics), keep(smooth), keep(steps))
    assert not any("adam" in name for name in table.index)
    assert table.loc["t1_signsgd_tb8", "verdict"] == "holds"


def test_one_batch_size_declares_no_t3():
    metrics, smooth, steps = GOOD
    table = claims(metrics, smooth, steps, batches={"tb8": 8})
    assert not any(name.startswith("t3") for name in table.index)


def test_the_cnn_ratio_is_a_loss_of_a_claims_table():
    cnn = pd.DataFrame({"claim": ["a_rhat_early", "a_loss"], "value": [1.3, 1.52]})
    assert cnn_loss_ratio(cnn) == 1.52
    with pytest.raises(ValueError, match="no a_loss row"):
        cnn_loss_ratio(cnn.iloc[:1])


def test_final_losses_hold_the_held_out_loss_of_each_selected_run():
    metrics = GOOD[0]
    losses = final_losses(metrics, ["tb8"])
    assert len(losses) == 3 * len(OPTIMIZERS) and (losses["epoch"] == EPOCHS).all()
    np.testing.assert_allclose(losses["test_loss"], 1.1 * losses["train_loss_eval"])


def test_command_line_writes_both_tables(tmp_path):
    metrics, smooth, steps = GOOD
    paths = {}
    for name, table in (("metrics", metrics), ("smooth", smooth), ("steps", steps)):
        paths[name] = tmp_path / f"{name}.csv"
        table.to_csv(paths[name], index=False)
    cnn = tmp_path / "cnn.csv"
    pd.DataFrame({"claim": ["a_loss"], "value": [CNN]}).to_csv(cnn, index=False)
    out, losses = tmp_path / "claims.csv", tmp_path / "losses.csv"
    main(["--metrics", str(paths["metrics"]), "--smoothness", str(paths["smooth"]),
          "--step-sizes", str(paths["steps"]), "--models", "tb8", "tb128", "--batch-sizes",
          "8", "128", "--cnn-claims", str(cnn), "--settings", SETTINGS.to_json(),
          "--out", str(out), "--out-losses", str(losses)])  # fmt: skip
    written = pd.read_csv(out).set_index("claim")
    assert written.loc["t3_signsgd", "verdict"] == "holds"
    assert set(pd.read_csv(losses)["model"]) == {"tb8", "tb128"}
