"""Figure 5's and the sign-family figure's verdicts, on tables whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from signgeom.cifar.claims import ClaimSettings
from signgeom.cifar.family_claims import family_claims
from signgeom.cifar.rotation_claims import rotation_claims

SETTINGS = ClaimSettings(level=0.9, similar_factor=1.5)


def rotation_rows(opt, seed, losses, r_hat=(2.0, 1.0), phi=(0.5, 0.25), factors=(1.0,)):
    """rotation.csv rows: ``losses[theta_index][factor_index]``; estimates on factor 1."""
    rows = []
    for i, theta in enumerate((0.0, 1.0)):
        for j, factor in enumerate(factors):
            rows.append(
                {
                    "model": "cnn", "optimizer": opt, "theta": theta, "seed": seed,
                    "lr_factor": factor, "final_train_loss": losses[i][j],
                    "R_hat_median": r_hat[i] if factor == 1.0 else np.nan,
                    "phi_median": phi[i] if factor == 1.0 else np.nan,
                }
            )  # fmt: skip
    return rows


def by_claim(table):
    return table.set_index("claim")


def test_rotation_verdicts_follow_the_ratios():
    rows = rotation_rows("sgd", 0, [[1.0], [1.04]]) + rotation_rows(
        "signsgd", 0, [[1.0, 0.9], [1.2, 1.8]], factors=(1.0, 3.0)
    )
    claims = by_claim(rotation_claims(pd.DataFrame(rows), SETTINGS, invariant_factor=1.1))
    assert claims.loc["rot_same_sgd", "value"] == pytest.approx(1.04)
    assert claims.loc["rot_same_sgd", "verdict"] == "holds"
    # best over factors: 0.9 at theta 0 (factor 3), 1.2 at theta 1 (factor 1)
    assert claims.loc["rot_worse_signsgd", "value"] == pytest.approx(1.2 / 0.9)
    assert claims.loc["rot_worse_signsgd", "verdict"] == "holds"
    for opt in ("sgd", "signsgd"):
        assert claims.loc[f"rot_r_hat_falls_{opt}", "value"] == pytest.approx(0.5)
        assert claims.loc[f"rot_phi_falls_{opt}", "verdict"] == "holds"
    assert set(claims["n_seeds"]) == {1}
    assert claims["note"].str.startswith("one seed").all()


def test_rotation_verdicts_fail_when_the_prediction_is_wrong():
    rows = rotation_rows("sgd", 0, [[1.0], [1.3]], r_hat=(1.0, 2.0)) + rotation_rows(
        "signsgd", 0, [[1.0], [0.8]]
    )
    claims = by_claim(rotation_claims(pd.DataFrame(rows), SETTINGS, invariant_factor=1.1))
    assert claims.loc["rot_same_sgd", "verdict"] == "fails"
    assert claims.loc["rot_worse_signsgd", "verdict"] == "fails"
    assert claims.loc["rot_r_hat_falls_sgd", "verdict"] == "fails"


def test_rotation_interval_over_seeds_is_the_geometric_t_interval():
    ratios = [1.5, 1.2, 1.9]
    rows = []
    for seed, q in enumerate(ratios):
        rows += rotation_rows("signsgd", seed, [[1.0], [q]])
    row = by_claim(rotation_claims(pd.DataFrame(rows), SETTINGS, 1.1)).loc["rot_worse_signsgd"]
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
                                "train_loss": value, "selected": True,
                                "status": "completed"})  # fmt: skip
            smooth.append({"model": "cnn", "optimizer": opt, "seed": seed, "epoch": 0,
                           "R_hat": r_hat_by_seed[seed]})  # fmt: skip
            c = cosine_by_seed[seed][opt]
            for epoch, value in ((0, c), (5, c / 2)):
                sim.append({"model": "cnn", "optimizer": opt, "seed": seed, "epoch": epoch,
                            "sign_agreement": 1.0, "cosine": value})  # fmt: skip
    return pd.DataFrame(metrics), pd.DataFrame(smooth), pd.DataFrame(sim)


LOSSES = {"sgd": 1.0, "signsgd": 0.8, "adam": 0.5, "lion": 0.7, "muon": 0.9}
COSINE = {"sgd": 0.3, "signsgd": 1.0, "adam": 0.9, "lion": 0.6, "muon": 0.15}


def test_family_winner_comparison_and_prediction():
    tables = family_tables({0: LOSSES}, {0: 2.0}, {0: COSINE})
    claims = by_claim(family_claims(*tables, ["cnn"], SETTINGS))
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
    tables = family_tables({0: LOSSES}, {0: 0.5}, {0: COSINE})
    claims = by_claim(family_claims(*tables, ["cnn"], SETTINGS))
    assert claims.loc["fam_rhat_above_1_cnn", "verdict"] == "fails"
    assert claims.loc["fam_rhat_predicts_cnn", "verdict"] == "fails"


def test_family_cosine_ratio_interval_over_seeds_and_a_negative_cosine():
    ratios = [2.0, 3.0, 2.5]
    tables = family_tables(
        {s: LOSSES for s in range(3)},
        {s: 2.0 for s in range(3)},
        {s: {**COSINE, "lion": q * COSINE["sgd"]} for s, q in enumerate(ratios)},
    )
    row = by_claim(family_claims(*tables, ["cnn"], SETTINGS)).loc["fam_closer_than_sgd_lion_cnn"]
    logs = np.log(ratios)
    half = stats.t.ppf(0.95, 2) * logs.std(ddof=1) / math.sqrt(3)
    assert row["value"] == pytest.approx(math.exp(logs.mean()))
    assert row["lo"] == pytest.approx(math.exp(logs.mean() - half))
    assert row["verdict"] == "holds" and row["n_seeds"] == 3
    metrics, smooth, sim = family_tables({0: LOSSES}, {0: 2.0}, {0: {**COSINE, "muon": -0.1}})
    row = by_claim(family_claims(metrics, smooth, sim, ["cnn"], SETTINGS)).loc[
        "fam_closer_than_sgd_muon_cnn"
    ]
    assert math.isnan(row["value"]) and row["verdict"] == "inconclusive"


def test_bad_inputs_are_refused_naming_the_problem():
    only_plain = pd.DataFrame(rotation_rows("sgd", 0, [[1.0], [1.0]])).query("theta == 0")
    with pytest.raises(ValueError, match="no theta > 0"):
        rotation_claims(only_plain, SETTINGS, invariant_factor=1.1)
    metrics, smooth, sim = family_tables({0: LOSSES}, {0: 2.0}, {0: COSINE})
    with pytest.raises(ValueError, match="cnn"):  # a similarity table of another model only
        family_claims(metrics, smooth, sim.assign(model="resnet20"), ["cnn"], SETTINGS)
