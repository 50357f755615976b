"""The sign-family stage end to end through Snakemake on a tiny config: Adam, Lion and Muon
train beside SGD and signSGD, R_hat is estimated along every trajectory with the paper's
probes, and the family table and figure come out."""

import math

import numpy as np
import pandas as pd
import pytest

from workflow_helpers import QUICK, snakemake, write_config

pytestmark = pytest.mark.slow

TINY_FAMILY = {
    "cifar": {
        "data": {"train_limit": 200, "test_limit": 100},
        "batch_size": 50,
        "similarity": {"warmup_steps": 3},
        "models": {
            "cnn": {
                "epochs": 1,
                "selection_epoch": 1,
                "step_sizes": {
                    "sgd": [0.03],
                    "signsgd": [0.0003],
                    "adam": [0.001],
                    "lion": [0.0003],
                    "muon": [0.03],
                },
            },
            # resnet20 stays in the config (files are merged); shrunk to one run per optimizer
            "resnet20": {
                "epochs": 1,
                "selection_epoch": 1,
                "step_sizes": {"sgd": [0.1], "signsgd": [0.001]},
            },
        },
        "smoothness": {"stride": 1, "n_examples": 16, "chunk_size": 16, "precision": "fp32"},
    }
}


@pytest.fixture(scope="module")
def family_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("family")
    config = write_config(workdir / "family.yaml", TINY_FAMILY)
    done = snakemake(
        workdir, "figures/figure3_family.png", "--cores", "2", "--configfile", QUICK, config
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return workdir


def test_family_stage_runs_every_optimizer(family_run):
    steps = pd.read_csv(family_run / "results/cifar/step_sizes.csv")
    cnn = steps[steps.model == "cnn"].set_index("optimizer")["lr"]
    assert set(cnn.index) == {"sgd", "signsgd", "adam", "lion", "muon"}
    smooth = pd.read_csv(family_run / "results/cifar/smoothness.csv")
    smooth = smooth[smooth.model == "cnn"]
    assert set(smooth.optimizer) == set(cnn.index)  # R_hat along every trajectory ...
    assert (smooth.alpha_gd == cnn["sgd"]).all()  # ... with the paper's probes
    assert (smooth.alpha_sign == cnn["signsgd"]).all()
    assert smooth.R_hat.map(math.isfinite).all()


def test_family_table_and_figure(family_run):
    table = pd.read_csv(family_run / "results/cifar/family.csv")
    assert set(table.model) == {"cnn"}  # resnet20 lists sgd and signsgd only
    sim = table[table.quantity == "sign_agreement"].set_index(["optimizer", "epoch"])["mean"]
    assert set(sim.index.get_level_values("epoch")) == {0, 1}
    assert (sim.loc["signsgd"] == 1.0).all()  # signSGD-momentum against itself
    assert (sim.loc["sgd"] == 1.0).all()  # the same heavy-ball buffer: sign(m) vs m
    for opt in ("adam", "lion", "muon"):
        assert ((sim.loc[opt] > 0) & (sim.loc[opt] <= 1)).all()
    cos = table[table.quantity == "cosine"].set_index(["optimizer", "epoch"])["mean"]
    np.testing.assert_allclose(cos.loc["signsgd"], 1.0)
    loss = table[table.quantity == "train_loss"]
    assert set(loss.epoch) == {0, 1} and set(loss.optimizer) == set(sim.index.levels[0])
    for ext in ("png", "pdf"):
        assert (family_run / f"figures/figure3_family.{ext}").exists()
    for name in ("similarity/cnn/muon/seed0", "family_table"):
        assert list((family_run / "logs/cifar").glob(f"{name}.log"))
