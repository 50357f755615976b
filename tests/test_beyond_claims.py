"""Figure 5's and the sign-family figure's verdicts, on tables whose answers are known."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from signgeom.analysis.family_claims import family_claims
from signgeom.analysis.rotation_claims import main as rotation_main
from signgeom.analysis.rotation_claims import rotation_claims
from signgeom.analysis.settings import ClaimSettings

REPO = Path(__file__).resolve().parents[1]
CONFIGURED = ClaimSettings.from_config(yaml.safe_load((REPO / "config.yaml").read_text()))
SETTINGS = dataclasses.replace(CONFIGURED, level=0.9, similar_factor=1.5, invariant_factor=1.1)
SEEDS = range(3)  # equal values on three seeds: a zero-width interval around the point


STEPS = pd.DataFrame(
    {"model": "cnn", "optimizer": ["sgd", "signsgd", "adam", "lion", "muon"], "lr": 0.01,
     "at_grid_edge": False, "grid_min": 0.001, "grid_max": 0.1}
)  # fmt: skip


def rotation_rows(opt, seed, losses, r_hat=(2.0, 1.0), phi=(0.5, 0.25), factors=(1.0,)):
    """rotation.csv rows: ``losses[theta_index][factor_index]``; estimates on factor 1."""
    rows = []
    for i, theta in enumerate((0.0, 1.0)):
        for j, factor in enumerate(factors):
            rows.append(
                {
                    "model": "cnn", "optimizer": opt, "theta": theta, "seed": seed,
                    "status": "completed",
                    "lr_factor": factor, "final_train_loss": losses[i][j],
                    "R_hat_median": r_hat[i] if factor == 1.0 else np.nan,
                    "phi_median": phi[i] if factor == 1.0 else np.nan,
                }
            )  # fmt: skip
    return rows


def by_claim(table):
    return table.set_index("claim")


def test_rotation_verdicts_follow_the_ratios():
    rows = [
        row
        for seed in SEEDS
        for row in rotation_rows("sgd", seed, [[1.0], [1.04]])
        + rotation_rows("signsgd", seed, [[1.0, 0.9], [1.2, 1.8]], factors=(1.0, 3.0))
    ]
    claims = by_claim(rotation_claims(pd.DataFrame(rows), STEPS, SETTINGS))
    assert claims.loc["rot_same_sgd", "value"] == pytest.approx(1.04)
    assert claims.loc["rot_same_sgd", "verdict"] == "holds"
    # best over factors: 0.9 at theta 0 (factor 3), 1.2 at theta 1 (factor 1)
    assert claims.loc["rot_worse_signsgd", "value"] == pytest.approx(1.2 / 0.9)
    assert claims.loc["rot_worse_signsgd", "verdict"] == "holds"
    for opt in ("sgd", "signsgd"):
        assert claims.loc[f"rot_r_hat_falls_{opt}", "value"] == pytest.approx(0.5)
        assert claims.loc[f"rot_phi_falls_{opt}", "verdict"] == "holds"
    assert set(claims["n_seeds"]) == {3}


def test_rotation_verdicts_fail_when_the_prediction_is_wrong():
    rows = [
        row
        for seed in SEEDS
        for row in rotation_rows("sgd", seed, [[1.0], [1.3]], r_hat=(1.0, 2.0))
        + rotation_rows("signsgd", seed, [[1.0], [0.8]])
    ]
    claims = by_claim(rotation_claims(pd.DataFrame(rows), STEPS, SETTINGS))
    assert claims.loc["rot_same_sgd", "verdict"] == "fails"
    assert claims.loc["rot_worse_signsgd", "verdict"] == "fails"
    assert claims.loc["rot_r_hat_falls_sgd", "verdict"] == "fails"


def test_rotation_interval_over_seeds_is_the_geometric_t_interval():
    ratios = [1.5, 1.2, 1.9]
    rows = []
    for seed, q in enumerate(ratios):
        rows += rotation_rows("signsgd", seed, [[1.0], [q]])
    row = by_claim(rotation_claims(pd.DataFrame(rows), STEPS, SETTINGS)).loc["rot_worse_signsgd"]
    logs = np.log(ratios)
    half = stats.t.ppf(0.95, 2) * logs.std(ddof=1) / math.sqrt(3)
    assert row["value"] == pytest.approx(math.exp(logs.mean()))
    assert row["lo"] == pytest.approx(math.exp(logs.mean() - half))
    assert row["hi"] == pytest.approx(math.exp(logs.mean() + half))
    assert row["verdict"] == "holds" and row["n_seeds"] == 3


def family_tables(losses_by_seed, r_hat_by_seed, cosine_by_seed):
    """metrics, smoothness and similarity rows for the CNN with the given last-epoch losses and
    cosines with signSGD-momentum at two snapshot epochs (the second: half the first)."""
    metrics, smooth, sim = [], [], []
    for seed, losses in losses_by_seed.items():
        for opt, loss in losses.items():
            for epoch, value in ((0, 2.3), (5, loss)):
                metrics.append({"model": "cnn", "optimizer": opt, "seed": seed, "epoch": epoch,
                                "train_loss": value, "selected": True, "diverged": False,
                                "status": "completed"})  # fmt: skip
            for epoch in (0, 5):
                smooth.append({"model": "cnn", "optimizer": opt, "seed": seed, "epoch": epoch,
                               "R_hat": r_hat_by_seed[seed], "phi": 0.1})  # fmt: skip
            c = cosine_by_seed[seed][opt]
            for epoch, value in ((0, c), (5, c / 2)):
                sim.append({"model": "cnn", "optimizer": opt, "seed": seed, "epoch": epoch,
                            "sign_agreement": 1.0, "cosine": value})  # fmt: skip
    return pd.DataFrame(metrics), pd.DataFrame(smooth), pd.DataFrame(sim)


LOSSES = {"sgd": 1.0, "signsgd": 0.8, "adam": 0.5, "lion": 0.7, "muon": 0.9}
COSINE = {"sgd": 0.3, "signsgd": 1.0, "adam": 0.9, "lion": 0.6, "muon": 0.15}


def test_family_winner_comparison_and_prediction():
    tables = family_tables({s: LOSSES for s in SEEDS}, {s: 2.0 for s in SEEDS},
                           {s: COSINE for s in SEEDS})  # fmt: skip
    claims = by_claim(family_claims(*tables, STEPS, ["cnn"], SETTINGS))
    winner = claims.loc["fam_winner_cnn"]
    assert winner["statement"].startswith("cnn: adam reaches the lowest")
    assert winner["value"] == pytest.approx(0.7 / 0.5)  # lion is the runner-up
    assert claims.loc["fam_sign_like_ahead_cnn", "value"] == pytest.approx(1.0 / 0.5)
    assert claims.loc["fam_rhat_above_1_cnn", "value"] == pytest.approx(2.0)
    assert claims.loc["fam_rhat_predicts_cnn", "verdict"] == "holds"
    # the cosine ratio is the same at both epochs: 0.9 / 0.3
    assert claims.loc["fam_closer_than_sgd_adam_cnn", "value"] == pytest.approx(3.0)
    assert claims.loc["fam_closer_than_sgd_adam_cnn", "verdict"] == "holds"
    assert claims.loc["fam_closer_than_sgd_muon_cnn", "verdict"] == "fails"
    assert not {"fam_closer_than_sgd_sgd_cnn", "fam_closer_than_sgd_signsgd_cnn"} & set(
        claims.index
    )


def test_family_prediction_fails_when_rhat_points_the_other_way():
    tables = family_tables({s: LOSSES for s in SEEDS}, {s: 0.5 for s in SEEDS},
                           {s: COSINE for s in SEEDS})  # fmt: skip
    claims = by_claim(family_claims(*tables, STEPS, ["cnn"], SETTINGS))
    assert claims.loc["fam_rhat_above_1_cnn", "verdict"] == "fails"
    assert claims.loc["fam_rhat_predicts_cnn", "verdict"] == "fails"


def test_family_cosine_ratio_interval_over_seeds_and_a_negative_cosine():
    ratios = [2.0, 3.0, 2.5]
    tables = family_tables(
        {s: LOSSES for s in range(3)},
        {s: 2.0 for s in range(3)},
        {s: {**COSINE, "lion": q * COSINE["sgd"]} for s, q in enumerate(ratios)},
    )
    claims = by_claim(family_claims(*tables, STEPS, ["cnn"], SETTINGS))
    row = claims.loc["fam_closer_than_sgd_lion_cnn"]
    logs = np.log(ratios)
    half = stats.t.ppf(0.95, 2) * logs.std(ddof=1) / math.sqrt(3)
    assert row["value"] == pytest.approx(math.exp(logs.mean()))
    assert row["lo"] == pytest.approx(math.exp(logs.mean() - half))
    assert row["verdict"] == "holds" and row["n_seeds"] == 3
    metrics, smooth, sim = family_tables({0: LOSSES}, {0: 2.0}, {0: {**COSINE, "muon": -0.1}})
    row = by_claim(family_claims(metrics, smooth, sim, STEPS, ["cnn"], SETTINGS)).loc[
        "fam_closer_than_sgd_muon_cnn"
    ]
    assert math.isnan(row["value"]) and row["verdict"] == "inconclusive"


def test_bad_inputs_are_refused_naming_the_problem():
    only_plain = pd.DataFrame(rotation_rows("sgd", 0, [[1.0], [1.0]])).query("theta == 0")
    with pytest.raises(ValueError, match="no theta > 0"):
        rotation_claims(only_plain, STEPS, SETTINGS)
    no_zero = pd.DataFrame(rotation_rows("sgd", 0, [[1.0], [1.0]])).query("theta > 0")
    with pytest.raises(ValueError, match="no theta = 0 rows"):
        rotation_claims(no_zero, STEPS, SETTINGS)
    metrics, smooth, sim = family_tables({0: LOSSES}, {0: 2.0}, {0: COSINE})
    with pytest.raises(ValueError, match="cnn"):  # a similarity table of another model only
        family_claims(metrics, smooth, sim.assign(model="resnet20"), STEPS, ["cnn"], SETTINGS)


def three_seeds(opt="signsgd", **kw):
    return [row for seed in range(3) for row in rotation_rows(opt, seed, **kw)]


def test_rotation_needs_min_seeds_for_a_verdict():
    one = pd.DataFrame(rotation_rows("signsgd", 0, [[1.0], [1.5]]))
    claims = by_claim(rotation_claims(one, STEPS, CONFIGURED))
    assert (claims["verdict"] == "inconclusive").all()
    assert claims["note"].str.endswith(f"1 seed (min {CONFIGURED.min_seeds}): no verdict").all()


def test_infinite_loss_at_theta_1_gives_no_holds():
    rows = pd.DataFrame(three_seeds(losses=[[1.0], [1.5]]))
    assert by_claim(rotation_claims(rows, STEPS, CONFIGURED)).loc["rot_worse_signsgd",
                                                                 "verdict"] == "holds"
    rows.loc[(rows["seed"] == 1) & (rows["theta"] == 1.0), "final_train_loss"] = math.inf
    claims = by_claim(rotation_claims(rows, STEPS, CONFIGURED))
    assert (claims["verdict"] == "inconclusive").all() and (claims["n_seeds"] == 2).all()
    assert claims["note"].str.contains("seed 1 excluded: final_train_loss = inf").all()


def test_zero_phi_gives_no_holds():
    rows = pd.DataFrame(three_seeds(losses=[[1.0], [1.5]]))
    rows.loc[(rows["seed"] == 0) & (rows["theta"] == 1.0), "phi_median"] = 0.0
    claims = by_claim(rotation_claims(rows, STEPS, CONFIGURED))
    assert claims.loc["rot_phi_falls_signsgd", "verdict"] == "inconclusive"
    assert "seed 0 excluded: phi_median = 0.0" in claims.loc["rot_phi_falls_signsgd", "note"]


def test_a_diverged_theta_1_run_leaves_the_rhat_and_phi_verdicts_too():
    rows = pd.DataFrame(three_seeds(opt="sgd", losses=[[1.0], [1.0]]))
    rows.loc[(rows["seed"] == 2) & (rows["theta"] == 1.0), "status"] = "diverged"
    claims = by_claim(rotation_claims(rows, STEPS, CONFIGURED))
    for claim in ("rot_same_sgd", "rot_r_hat_falls_sgd", "rot_phi_falls_sgd"):
        assert claims.loc[claim, "n_seeds"] == 2
        assert "seed 2 excluded: sgd at theta 1 diverged" in claims.loc[claim, "note"]


def test_rotation_grid_edge_and_command_line(tmp_path):
    rows = pd.DataFrame(three_seeds(losses=[[1.0], [1.5]]))
    steps = STEPS.assign(at_grid_edge=STEPS["optimizer"] == "signsgd", lr=0.001)
    rows.to_csv(tmp_path / "rotation.csv", index=False)
    steps.to_csv(tmp_path / "step_sizes.csv", index=False)
    out = tmp_path / "rotation_claims.csv"
    rotation_main(["--table", str(tmp_path / "rotation.csv"), "--step-sizes",
                   str(tmp_path / "step_sizes.csv"), "--settings", CONFIGURED.to_json(),
                   "--out", str(out)])  # fmt: skip
    claims = pd.read_csv(out, keep_default_na=False, na_values=[""]).set_index("claim")
    assert (claims["grid_edge"] == "signsgd lr 0.001 (grid 0.001-0.1)").all()
    assert claims.loc["rot_worse_signsgd", "verdict"] == "holds"
    rows.iloc[0:0].to_csv(tmp_path / "rotation.csv", index=False)
    out.unlink()
    with pytest.raises(ValueError, match="rotation.csv: no rows"):
        rotation_main(["--table", str(tmp_path / "rotation.csv"), "--step-sizes",
                       str(tmp_path / "step_sizes.csv"), "--settings", CONFIGURED.to_json(),
                       "--out", str(out)])  # fmt: skip
    assert not out.exists()


def test_family_diverged_seed_leaves_every_claim_of_the_model():
    tables = family_tables({s: LOSSES for s in range(3)}, {s: 2.0 for s in range(3)},
                           {s: COSINE for s in range(3)})  # fmt: skip
    metrics = tables[0]
    metrics.loc[(metrics["seed"] == 1) & (metrics["optimizer"] == "lion"), "diverged"] = True
    claims = by_claim(family_claims(metrics, *tables[1:], STEPS, ["cnn"], CONFIGURED))
    real = claims[claims["direction"] != "agree"]
    assert (real["n_seeds"] == 2).all() and (real["excluded"] == "1").all()
    assert real["note"].str.contains("seed 1 excluded: lion diverged").all()
    assert (claims["verdict"] == "inconclusive").all()
