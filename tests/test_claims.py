"""Figure 3's claims on synthetic tables with known answers, and every way a seed's numbers can
be meaningless (issue: infinities, zeros, negative estimates, diverged or NaN runs, empty
tables) giving no verdict from it."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from signgeom.analysis.figure3_claims import compute_claims, main
from signgeom.analysis.settings import ClaimSettings
from signgeom.analysis.tables import combine_smoothness

REPO = Path(__file__).resolve().parents[1]
SETTINGS = ClaimSettings.from_config(yaml.safe_load((REPO / "config.yaml").read_text()))
EPOCHS = 20


def _tables(ratios, rhats, sims, models=("cnn",)):
    """Selected runs whose training losses keep the ratio ``ratios[s]`` (behind / ahead) at
    every epoch after 0, and R_hat estimates at epochs 0, 4, ..., 20 of ``rhats[s]`` along SGD
    and ``rhats[s] x sims[s]`` along signSGD, per seed ``s``."""
    metrics, smooth, steps = [], [], []
    for model in models:
        ahead, behind = ("signsgd", "sgd") if model == "cnn" else ("sgd", "signsgd")
        for seed, (ratio, rhat, sim) in enumerate(zip(ratios, rhats, sims, strict=True)):
            for epoch in range(EPOCHS + 1):
                for opt in ("sgd", "signsgd"):
                    loss = 0.5 * np.exp(-0.05 * epoch) * (ratio if opt == behind else 1.0)
                    metrics.append(
                        dict(model=model, optimizer=opt, lr=0.1, seed=seed, epoch=epoch,
                             train_loss=2.3 if epoch == 0 else loss, diverged=False,
                             status="completed", selected=True)
                    )  # fmt: skip
            for epoch in range(0, EPOCHS + 1, 4):
                for opt, r in (("sgd", rhat), ("signsgd", rhat * sim)):
                    smooth.append(dict(model=model, optimizer=opt, seed=seed, epoch=epoch,
                                       R_hat=r, phi=0.1))  # fmt: skip
        for opt in ("sgd", "signsgd"):
            steps.append(dict(model=model, optimizer=opt, lr=0.1, at_grid_edge=False,
                              grid_min=0.01, grid_max=1.0))  # fmt: skip
    return pd.DataFrame(metrics), pd.DataFrame(smooth), pd.DataFrame(steps)


def claims(metrics, smooth, steps, settings=SETTINGS):
    return compute_claims(metrics, smooth, steps, settings).set_index("claim")


GOOD = ([2.0, 2.2, 1.9], [1.5, 1.6, 1.55], [1.1, 1.2, 0.9])


def test_clear_win_clear_loss_and_straddle():
    # loss ratio clearly above 1, R_hat clearly below 1 (a_rhat_early fails), trajectory
    # ratio straddling the similarity band's edge (inconclusive)
    table = claims(*_tables([2.0, 2.2, 1.9], [0.5, 0.6, 0.55], [1.1, 2.0, 1.4]))
    assert set(table.index) == {"a_loss", "a_rhat_early", "c_similar_cnn"}  # no resnet20
    win = table.loc["a_loss"]
    assert win["verdict"] == "holds" and win["n_seeds"] == 3 and win["lo"] > 1
    assert win["value"] == pytest.approx(np.exp(np.log([2.0, 2.2, 1.9]).mean()))
    early = table.loc["a_rhat_early"]
    assert early["verdict"] == "fails" and early["hi"] < 1
    # epoch 4 along both (rhat, rhat sim) and epoch 0 once (rhat sqrt(sim)): rhat sqrt(sim)
    pooled = np.array([0.5, 0.6, 0.55]) * np.array([1.1, 2.0, 1.4]) ** 0.5
    assert early["value"] == pytest.approx(np.exp(np.log(pooled).mean()))
    straddle = table.loc["c_similar_cnn"]
    assert straddle["value"] == pytest.approx(np.exp(np.log([1.1, 2.0, 1.4]).mean()))
    assert straddle["lo"] < 1.5 < straddle["hi"] and straddle["verdict"] == "inconclusive"


def test_interval_containing_threshold_is_inconclusive():
    table = claims(*_tables([0.8, 1.3, 1.1], [0.9, 1.2, 1.0], [1.0, 1.0, 1.0]))
    assert table.loc["a_loss", "verdict"] == "inconclusive"
    assert table.loc["a_rhat_early", "verdict"] == "inconclusive"
    assert table.loc["c_similar_cnn", "verdict"] == "holds"  # exactly 1 on every seed


def test_one_seed_gives_no_verdict():
    table = claims(*_tables([1.5], [1.2], [1.0]))
    row = table.loc["a_loss"]
    assert row["n_seeds"] == 1 and row["value"] == pytest.approx(1.5)
    assert row["verdict"] == "inconclusive" and row["note"] == "1 seed (min 3): no verdict"
    assert (table["verdict"] == "inconclusive").all()


def test_early_window_holds_estimates_after_the_start_only_up_to_the_fraction():
    metrics, smooth, steps = _tables([1.0] * 3, [1.0] * 3, [1.0] * 3)
    smooth.loc[smooth["epoch"] > 5, "R_hat"] = 100.0  # late estimates must not count
    smooth.loc[smooth["epoch"] == 4, "R_hat"] = 2.0
    # epoch 0 (1.0) once, epoch 4 twice (2.0): (1 x 2 x 2)^(1/3)
    value = claims(metrics, smooth, steps).loc["a_rhat_early", "value"]
    assert value == pytest.approx(4 ** (1 / 3))


def test_the_loss_ratio_is_the_tail_mean_of_log_losses_not_one_epoch():
    metrics, smooth, steps = _tables(*GOOD)
    last = (metrics["epoch"] == EPOCHS) & (metrics["optimizer"] == "signsgd")
    metrics.loc[last, "train_loss"] *= 4.0  # one noisy epoch of the run ahead
    row = claims(metrics, smooth, steps).loc["a_loss"]
    k = math.ceil(SETTINGS.loss_tail_fraction * EPOCHS)
    expected = np.array(GOOD[0]) / 4.0 ** (1 / k)
    assert row["value"] == pytest.approx(np.exp(np.log(expected).mean()))
    assert row["verdict"] == "holds"  # the last epoch alone would read 0.5: fails
    assert "last ceil(0.2 x E) epochs" in row["statistic"]


@pytest.mark.parametrize("seeds", [[1], [0, 1, 2]])
def test_infinite_rhat_gives_no_holds(seeds):
    metrics, smooth, steps = _tables(*GOOD)
    smooth.loc[smooth["seed"].isin(seeds) & (smooth["epoch"] == 4), "R_hat"] = math.inf
    table = claims(metrics, smooth, steps)
    assert (table["verdict"] == "inconclusive").all()
    for seed in seeds:
        assert table["note"].str.contains(f"seed {seed} excluded: R_hat = inf at epoch 4").all()
    assert (table["n_seeds"] == 3 - len(seeds)).all()
    assert np.isfinite(table["value"]).all() if len(seeds) < 3 else True


def _resnet(ratios, rhats, sims):
    return _tables(ratios, rhats, sims, models=("resnet20",))


def test_zero_rhat_on_one_seed_gives_no_holds():
    metrics, smooth, steps = _resnet([1.5, 1.6, 1.7], [0.5, 0.6, 0.55], [1.0, 1.0, 1.0])
    assert claims(metrics, smooth, steps).loc["b_rhat", "verdict"] == "holds"
    smooth.loc[(smooth["seed"] == 0) & (smooth["epoch"] == 8), "R_hat"] = 0.0
    row = claims(metrics, smooth, steps).loc["b_rhat"]
    assert row["verdict"] == "inconclusive" and row["n_seeds"] == 2
    assert "seed 0 excluded: R_hat = 0.0 at epoch 8" in row["note"]


def test_infinite_signsgd_loss_gives_no_holds():
    metrics, smooth, steps = _resnet([1.5, 1.6, 1.7], [0.5, 0.6, 0.55], [1.0, 1.0, 1.0])
    bad = (metrics["seed"] == 2) & (metrics["optimizer"] == "signsgd") & (metrics["epoch"] > 10)
    metrics.loc[bad, "train_loss"] = math.inf
    table = claims(metrics, smooth, steps)
    assert table.loc["b_loss", "verdict"] == "inconclusive" and table.loc["b_loss", "n_seeds"] == 2
    assert "seed 2 excluded: signsgd training loss not finite" in table.loc["b_loss", "note"]


def test_negative_rhat_on_both_trajectories_is_no_ratio_of_one():
    metrics, smooth, steps = _tables(*GOOD)
    smooth.loc[smooth["seed"] == 1, "R_hat"] *= -1
    row = claims(metrics, smooth, steps).loc["c_similar_cnn"]
    assert row["n_seeds"] == 2 and "1:" not in row["per_seed"]
    assert "seed 1 excluded: R_hat = -" in row["note"]


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (dict(train_loss=math.nan), "sgd training loss not finite"),
        (dict(diverged=True), "sgd diverged"),
        (dict(status="diverged"), "sgd status diverged"),
    ],
)
def test_a_nan_or_diverged_seed_leaves_every_claim_of_its_model(spoil, reason):
    metrics, smooth, steps = _tables(*GOOD, models=("cnn", "resnet20"))
    bad = (metrics["seed"] == 2) & (metrics["optimizer"] == "sgd") & (metrics["model"] == "cnn")
    for column, value in spoil.items():
        metrics[column] = metrics[column].astype(object)
        metrics.loc[bad & (metrics["epoch"] >= 15), column] = value
    table = claims(metrics, smooth, steps)
    cnn = table[table["model"] == "cnn"]
    assert (cnn["n_seeds"] == 2).all() and (cnn["excluded"] == "2").all()
    assert cnn["note"].str.contains(f"seed 2 excluded: {reason}").all()
    assert (cnn["verdict"] == "inconclusive").all()
    resnet = table[table["model"] == "resnet20"]  # another model's seeds are untouched
    assert (resnet["n_seeds"] == 3).all() and (resnet["note"] == "").all()


def test_a_missing_trajectory_excludes_the_seed():
    metrics, smooth, steps = _tables(*GOOD)
    smooth = smooth[~((smooth["seed"] == 0) & (smooth["optimizer"] == "signsgd"))]
    table = claims(metrics, smooth, steps)
    assert table["note"].str.contains("seed 0 excluded: no signsgd estimates").all()


def test_grid_edge_is_flagged_on_every_claim_it_feeds():
    metrics, smooth, steps = _tables(*GOOD, models=("cnn", "resnet20"))
    edge = (steps["model"] == "cnn") & (steps["optimizer"] == "signsgd")
    steps.loc[edge, ["at_grid_edge", "lr"]] = [True, 0.01]
    table = claims(metrics, smooth, steps)
    edges = table.loc[table["model"] == "cnn", "grid_edge"]
    assert (edges == "signsgd lr 0.01 (grid 0.01-1)").all()
    assert (table.loc[table["model"] == "resnet20", "grid_edge"] == "").all()


def test_verdicts_per_probe_option():
    metrics, smooth, steps = _tables(*GOOD)
    heavy = smooth.assign(probe_step="heavy_ball", R_hat=smooth["R_hat"] / 3)
    table = claims(metrics, pd.concat([smooth.assign(probe_step="raw"), heavy]), steps)
    row = table.loc["a_rhat_early"]
    assert row["verdict"] == "holds" and row["verdict_heavy_ball"] == "fails"
    assert row["value_heavy_ball"] == pytest.approx(row["value"] / 3)
    assert row["verdict_radius"] == "no data" and table.loc["a_loss", "verdict_radius"] == "n/a"
    assert claims(metrics, smooth, steps).loc["a_rhat_early", "verdict_heavy_ball"] == "no data"


def test_the_tables_step_fills_the_robustness_columns_from_the_probe_shards(tmp_path):
    """Headline shards and heavy_ball shards (R_hat / 3: the verdict flips, one heavy_ball
    estimate failed) through the tables step's concatenation into the claims command: the
    headline verdict from the raw rows alone, verdict_heavy_ball from the heavy_ball rows."""
    metrics, smooth, steps = _tables(*GOOD)
    heavy = smooth.assign(probe_step="heavy_ball", R_hat=smooth["R_hat"] / 3)
    heavy.loc[heavy.index[-1], "R_hat"] = np.nan  # a failed heavy_ball estimate of seed 2
    shards = []
    for name, table in (("shard0", smooth.assign(probe_step="raw")),
                        ("probe-heavy_ball/shard0", heavy)):  # fmt: skip
        shards.append(tmp_path / f"{name}.csv")
        shards[-1].parent.mkdir(exist_ok=True)
        table.to_csv(shards[-1], index=False)
    paths = _write(tmp_path, metrics, combine_smoothness(shards), steps)
    main(_argv(paths, tmp_path / "claims.csv"))
    table = pd.read_csv(tmp_path / "claims.csv", keep_default_na=False, na_values=[""])
    table = table.set_index("claim")
    alone = claims(metrics, smooth, steps)
    pd.testing.assert_series_equal(table["verdict"], alone["verdict"])
    np.testing.assert_allclose(table["value"], alone["value"])  # the raw rows, untouched
    early = table.loc["a_rhat_early"]
    assert early["verdict"] == "holds" and early["verdict_heavy_ball"] == "inconclusive"
    raw_per_seed = dict(x.split(":") for x in alone.loc["a_rhat_early", "per_seed"].split())
    kept = [float(raw_per_seed[s]) / 3 for s in ("0", "1")]  # seed 2 excluded under heavy_ball
    assert early["value_heavy_ball"] == pytest.approx(np.exp(np.log(kept).mean()), rel=1e-3)
    assert early["n_seeds"] == 3 and early["verdict_radius"] == "no data"
    assert early["n_seeds_heavy_ball"] == 2 and early["n_seeds_radius"] == 0
    assert table.loc["a_loss", "verdict_heavy_ball"] == "n/a"


def test_an_estimate_listed_twice_under_one_option_is_refused_not_averaged():
    metrics, smooth, steps = _tables(*GOOD)
    doubled = pd.concat([smooth, smooth.iloc[:1].assign(R_hat=99.0)], ignore_index=True)
    with pytest.raises(ValueError, match="estimates listed twice"):
        claims(metrics, doubled, steps)


def test_min_seeds_is_the_setting():
    table = claims(*_tables(*GOOD), settings=dataclasses.replace(SETTINGS, min_seeds=4))
    assert (table["verdict"] == "inconclusive").all()
    assert table["note"].str.endswith("3 seeds (min 4): no verdict").all()


def _write(tmp_path, metrics, smooth, steps):
    paths = {}
    for name, table in (("metrics", metrics), ("smoothness", smooth), ("step_sizes", steps)):
        paths[name] = tmp_path / f"{name}.csv"
        table.to_csv(paths[name], index=False)
    return paths


def _argv(paths, out):
    return ["--metrics", str(paths["metrics"]), "--smoothness", str(paths["smoothness"]),
            "--step-sizes", str(paths["step_sizes"]), "--settings", SETTINGS.to_json(),
            "--out", str(out)]  # fmt: skip


def test_command_line_writes_the_table(tmp_path):
    paths = _write(tmp_path, *_tables(*GOOD))
    main(_argv(paths, tmp_path / "claims.csv"))
    table = pd.read_csv(tmp_path / "claims.csv", keep_default_na=False, na_values=[""])
    assert list(table["claim"]) == ["a_loss", "a_rhat_early", "c_similar_cnn"]
    assert (table["verdict"] == "holds").all()


@pytest.mark.parametrize("which", ["metrics", "smoothness", "step_sizes"])
def test_header_only_input_is_a_named_error_and_writes_nothing(tmp_path, which):
    paths = _write(tmp_path, *_tables(*GOOD))
    header = pd.read_csv(paths[which]).iloc[0:0]
    header.to_csv(paths[which], index=False)
    with pytest.raises(ValueError, match=f"{which}.csv: no rows"):
        main(_argv(paths, tmp_path / "claims.csv"))
    assert not (tmp_path / "claims.csv").exists()


def test_an_early_window_without_estimates_leaves_that_claim_only():
    """Estimates at epochs 0 and 20 only: the early window (0, 5] holds none, so a_rhat_early
    has no value on any seed, and the other claims keep every seed."""
    metrics, smooth, steps = _tables(*GOOD)
    table = claims(metrics, smooth[smooth["epoch"].isin([0, EPOCHS])], steps)
    early = table.loc["a_rhat_early"]
    assert early["n_seeds"] == 0 and early["verdict"] == "inconclusive"
    assert early["note"].startswith("no value of this statistic on seed 0 1 2")
    assert (table.loc[["a_loss", "c_similar_cnn"], "n_seeds"] == 3).all()
    assert (table.loc[["a_loss", "c_similar_cnn"], "verdict"] == "holds").all()
