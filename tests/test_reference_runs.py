"""The committed reference runs (results/reference/<preset>/) are well formed and consistent
with the committed preset they claim to come from."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from figure_checks import assert_figure3_draws, assert_image_files, assert_premises_draw
from signgeom.norms import psd_tolerance
from signgeom.workflow import REPO

REFERENCES = ["subset", "subset-long"]
STEP_COLUMNS = {"model", "optimizer", "lr", "at_grid_edge", "final_test_acc"}
SMOOTH_COLUMNS = {"model", "optimizer", "epoch", "phi", "L2_hat", "Linf_hat", "R_hat", "d"}
METRIC_COLUMNS = {"model", "optimizer", "lr", "seed", "epoch", "train_loss", "test_acc"}


def _load(name: str):
    """The reference's directory, the cifar config it was made with (its provenance) and its
    tables; the committed preset may since have widened a grid (checked below)."""
    ref = REPO / "results" / "reference" / name
    made_with = json.loads((ref / "provenance.json").read_text())["config"]["cifar"]
    tables = {t: pd.read_csv(ref / f"{t}.csv") for t in ("step_sizes", "smoothness", "metrics")}
    return ref, made_with, tables


@pytest.mark.parametrize("name", REFERENCES)
def test_preset_grids_contain_the_reference_grids(name):
    """A preset's grids only ever widen past what its reference ran: never drop a value."""
    _, made_with, _ = _load(name)
    preset = yaml.safe_load((REPO / "presets" / f"{name}.yaml").read_text())["cifar"]
    for model, spec in made_with["models"].items():
        for opt, grid in spec["step_sizes"].items():
            assert set(grid) <= set(preset["models"][model]["step_sizes"][opt]), (model, opt)


@pytest.mark.parametrize("name", REFERENCES)
def test_edge_choices_are_bracketed_by_the_preset(name):
    """Where the reference chose a grid edge, the preset's grid now extends past it."""
    _, _, t = _load(name)
    preset = yaml.safe_load((REPO / "presets" / f"{name}.yaml").read_text())["cifar"]
    for row in t["step_sizes"].itertuples():
        grid = preset["models"][row.model]["step_sizes"][row.optimizer]
        if row.at_grid_edge:
            assert min(grid) < row.lr < max(grid), (row.model, row.optimizer, row.lr)


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_tables_match_their_preset(name):
    ref, preset, t = _load(name)
    assert_image_files([ref / "figure3.png", ref / "figure3.pdf"])
    assert (ref / "provenance.json").stat().st_size > 0
    steps, smooth, metrics = t["step_sizes"], t["smoothness"], t["metrics"]
    assert_figure3_draws(steps, smooth, metrics)
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
    for (model, _, _), g in smooth.groupby(["model", "optimizer", "seed"]):
        epochs = models[model]["epochs"]
        assert sorted(g["epoch"]) == sorted({*range(0, epochs + 1, stride), epochs})
        assert (g["R_hat"] > 0).all() and g["R_hat"].map(math.isfinite).all()
    assert not metrics[metrics["selected"]]["status"].eq("diverged").any()


@pytest.mark.parametrize("name", ["subset", "subset-long"])
def test_repeated_seeds_follow_seed_zeros_selection_and_schedule(name):
    """results/reference/<name>/seeds/: every repeat trains seed 0's selected step size on its
    own seed, reaches the preset's last epoch without diverging, and has R_hat on the preset's
    estimate schedule under every probe option it was estimated with; R_hat at epoch 0 (the
    weights both trajectories of a seed start from) is one value for both optimizers."""
    ref, made_with, t = _load(name)
    seeds = {n: pd.read_csv(ref / "seeds" / f"{n}.csv") for n in ("metrics", "smoothness")}
    chosen = {(r.model, r.optimizer): r.lr for r in t["step_sizes"].itertuples()}
    metrics, smooth = seeds["metrics"], seeds["smoothness"]
    assert 0 not in set(metrics["seed"]) and 0 not in set(smooth["seed"])
    stride = made_with["smoothness"]["stride"]
    for (model, opt, seed), g in metrics.groupby(["model", "optimizer", "seed"]):
        assert set(g["lr"]) == {chosen[model, opt]}, (model, opt, seed)
        assert g["epoch"].max() == made_with["models"][model]["epochs"], (model, opt, seed)
        assert (g["status"] == "completed").all() and not g["diverged"].any()
    estimate = ["model", "optimizer", "seed", "probe_step"]  # one trajectory, one probe option
    for (model, *_), g in smooth.groupby(estimate):
        epochs = made_with["models"][model]["epochs"]
        assert sorted(g["epoch"]) == sorted({*range(0, epochs + 1, stride), epochs})
        assert (g["R_hat"] > 0).all() and g["R_hat"].map(math.isfinite).all()
    runs = set(zip(metrics["model"], metrics["optimizer"], metrics["seed"], strict=True))
    headline = smooth[smooth["probe_step"] == "raw"]
    assert runs == set(zip(headline["model"], headline["optimizer"], headline["seed"], strict=True))
    assert set(zip(smooth["model"], smooth["optimizer"], smooth["seed"], strict=True)) == runs
    start = smooth[smooth["epoch"] == 0].groupby(["model", "seed", "probe_step"])["R_hat"]
    assert (start.max() / start.min()).max() == pytest.approx(1, abs=1e-6)


def test_subset_premises_reference_is_consistent_with_its_config_and_theorems():
    """results/reference/subset-premises: the epochs its override asks for, R_hat joined from
    its own smoothness table, the derived columns recomputed, and on PSD blocks the two
    theorems (Prop. 3, Eq. 13) hold."""
    ref = REPO / "results" / "reference" / "subset-premises"
    over = yaml.safe_load((ref / "override.yaml").read_text())["cifar"]
    preset = yaml.safe_load((REPO / "presets" / "subset.yaml").read_text())["cifar"]
    hess = pd.read_csv(ref / "hessian.csv")
    blocks = pd.read_csv(ref / "hessian_blocks.csv")
    smooth = pd.read_csv(ref / "smoothness.csv")
    assert_image_files([ref / "premises.png"])
    assert_premises_draw(hess, pd.read_csv(ref / "hessian_density.csv"))
    assert {(m, o) for m, spec in over["models"].items() for o in spec["step_sizes"]} == set(
        zip(hess["model"], hess["optimizer"], strict=True)
    )
    for (model, _), g in hess.groupby(["model", "optimizer"]):
        stride_epochs = preset["smoothness"]["stride"] * over["hessian"]["stride"]
        last = preset["models"][model]["epochs"]
        assert sorted(g["epoch"]) == list(range(last % stride_epochs, last + 1, stride_epochs))
    assert (hess["n_examples"] == over["hessian"]["n_examples"]).all()
    joined = hess.merge(smooth, on=["model", "optimizer", "epoch"], suffixes=("", "_s"))
    assert len(joined) == len(hess)
    assert joined["R_hat"].to_numpy() == pytest.approx(joined["R_hat_s"].to_numpy(), rel=1e-12)
    assert hess["lambda_bar"].to_numpy() == pytest.approx((hess["trace"] / hess["d"]).to_numpy())
    ratio = hess["lambda_max"] / hess["lambda_bar"]
    assert hess["ratio"].to_numpy() == pytest.approx(ratio.to_numpy())
    assert ((hess["ratio_lo"] <= hess["ratio"]) & (hess["ratio"] <= hess["ratio_hi"])).all()
    eq13 = hess["rho_diag_random"] * hess["ratio"] * hess["phi"]
    assert hess["eq13_random"].to_numpy() == pytest.approx(eq13.to_numpy())
    assert (hess["lambda_min"] < 0).all() and (hess["lambda_min"] < hess["lambda_max"]).all()
    psd = blocks[blocks["psd"]]
    scale = psd[["lambda_max", "lambda_min"]].abs().max(axis=1)
    assert len(psd) > 0 and (psd["lambda_min"] >= -psd_tolerance(np.float32) * scale).all()
    indefinite = blocks[~blocks["psd"]]
    assert indefinite["eq13_bound"].isna().all() and indefinite["prop3_bound"].isna().all()
    zero = psd["lambda_max"] == 0  # H_II = 0 (dead units): nothing is defined
    assert psd.loc[zero, ["rho_diag", "R", "eq13_bound", "prop3_bound"]].isna().all().all()
    psd = psd[~zero]
    assert (psd["R"] >= psd["eq13_bound"] * (1 - 1e-12)).all()
    assert (psd["linf1"] <= psd["prop3_bound"] * (1 + 1e-12)).all()
    last_layer = blocks.loc[blocks["kind"] == "last_layer", "rho_diag"].to_numpy()
    assert len(last_layer) > 0 and last_layer == pytest.approx(0.5, rel=1e-5)


def preset_hessian_models() -> list[str]:
    """cifar.hessian.models of presets/transformer.yaml."""
    preset = yaml.safe_load((REPO / "presets/transformer.yaml").read_text())
    return preset["cifar"]["hessian"]["models"]


def test_every_reference_claims_table_is_what_the_engine_computes_from_its_tables(tmp_path):
    """results/reference/{subset,subset-long,rotation,family,transformer}: the committed claims
    equal a
    recomputation from the committed tables with the settings in config.yaml (so none is typed
    or stale), and none has a verdict on fewer than min_seeds seeds."""
    from signgeom.analysis.family_claims import family_claims
    from signgeom.analysis.figure3_claims import compute_claims
    from signgeom.analysis.rotation_claims import rotation_claims
    from signgeom.analysis.settings import ClaimSettings
    from signgeom.analysis.transformer_claims import cnn_loss_ratio
    from signgeom.analysis.transformer_claims import compute_claims as transformer_claims

    settings = ClaimSettings.from_config(yaml.safe_load((REPO / "config.yaml").read_text()))
    ref = REPO / "results" / "reference"

    def read(*paths):
        return pd.concat(
            [pd.read_csv(ref / p, keep_default_na=False, na_values=[""]) for p in paths],
            ignore_index=True,
        )

    def check(committed, table, tmp):  # the recomputation through the same CSV round trip
        table.to_csv(tmp, index=False)
        pd.testing.assert_frame_equal(read(committed), read(tmp))
        decided = table[table["verdict"].isin(["holds", "fails"])]
        assert (decided["n_seeds"] >= settings.min_seeds).all(), committed

    for name, extra in (("subset", "subset/seeds/"), ("subset-long", "subset-long/seeds/")):
        parts = [f"{name}/"] + ([extra] if extra else [])
        table = compute_claims(
            read(*(p + "metrics.csv" for p in parts)),
            read(*(p + "smoothness.csv" for p in parts)),
            read(*(p + "step_sizes.csv" for p in parts)),
            settings,
        )
        check(f"{name}/claims.csv", table, tmp_path / f"{name}.csv")
    rotation = rotation_claims(
        read("rotation/rotation.csv"), read("rotation/step_sizes.csv"), settings
    )
    check("rotation/rotation_claims.csv", rotation, tmp_path / "r.csv")
    family_dir = ref / "family"
    # the transformer's, at the batch sizes its preset gives its models, against the CNN's
    # committed loss ratio
    preset = yaml.safe_load((REPO / "presets/transformer.yaml").read_text())["cifar"]["models"]
    batch_sizes = {name: spec["batch_size"] for name, spec in preset.items() if spec}
    transformer = transformer_claims(
        read("transformer/metrics.csv"),
        read("transformer/smoothness.csv"),
        read("transformer/step_sizes.csv"),
        batch_sizes,
        cnn_loss_ratio(read("subset/claims.csv")),
        settings,
    )
    check("transformer/transformer_claims.csv", transformer, tmp_path / "t.csv")
    assert set(transformer["n_seeds"]) == {3}
    # t4: the rotated-coordinates control of the transformer, Figure 5's claims
    transformer_rotation = rotation_claims(
        read("transformer/rotation.csv"), read("transformer/step_sizes.csv"), settings
    )
    check("transformer/rotation_claims.csv", transformer_rotation, tmp_path / "tr.csv")
    assert set(transformer_rotation["n_seeds"]) == {3}
    # the sign family's questions: the CNN and ResNet20's reference, and the transformer's
    # (Adam beside SGD and signSGD), whose models are in its preset's order
    for name, models in (("family", None), ("transformer", list(batch_sizes))):
        similarity = read(f"{name}/similarity.csv")
        family = family_claims(
            read(f"{name}/metrics.csv"),
            read(f"{name}/smoothness.csv"),
            similarity,
            read(f"{name}/step_sizes.csv"),
            models or sorted(similarity["model"].unique()),
            settings,
        )
        check(f"{name}/family_claims.csv", family, tmp_path / f"{name}-family.csv")
    assert set(family["n_seeds"]) == {3}
    # t5: the spreads recomputed from the committed per-block tables, then the claims
    from signgeom.analysis.hessian_heterogeneity import heterogeneity, last_snapshots
    from signgeom.analysis.transformer_hessian_claims import compute_claims as hessian_claims

    for blocks, spread, last in (
        ("hessian_param_blocks.csv", "hessian_heterogeneity.csv", False),
        ("cnn_hessian_param_blocks.csv", "cnn_hessian_heterogeneity.csv", True),
    ):
        table = read(f"transformer/{blocks}")
        heterogeneity(last_snapshots(table) if last else table).to_csv(
            tmp_path / spread, index=False
        )
        pd.testing.assert_frame_equal(read(f"transformer/{spread}"), read(tmp_path / spread))
    hessian_models = {m: b for m, b in batch_sizes.items() if m in preset_hessian_models()}
    t5 = hessian_claims(
        read("transformer/hessian_heterogeneity.csv"),
        read("transformer/cnn_hessian_heterogeneity.csv"),
        read("transformer/step_sizes.csv"),
        hessian_models,
        settings,
    )
    check("transformer/transformer_hessian_claims.csv", t5, tmp_path / "t5.csv")
    assert_image_files(
        [ref / "rotation/figure5.png", family_dir / "figure3_family.png"]
        + [ref / "transformer/figure3.png", ref / "transformer/figure5.png"]
    )
