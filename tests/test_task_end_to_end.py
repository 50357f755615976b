"""A task defined in this file runs the whole protocol through the library, unchanged: the
step-size grid, selection, the selected runs on three seeds, R_hat along them, the tables and
claims through the one claims engine.

The task is linear least squares: ``f(w, b) = mean_i (x_i . w + b - y_i)^2`` on a fixed
synthetic set, so its Hessian is the constant ``H = 2 A^T A / n`` with ``A = [X 1]`` and the
smoothness estimator's finite-difference quotients are exact: ``L2_hat = ||H g||_2 / ||g||_2``,
``Linf_hat = ||H sign g||_1`` (``signgeom.estimate.smoothness``), whatever the probes' length:
so the robustness probe options (``heavy_ball``, ``radius``) estimate the same R_hat as the
headline ``raw`` and every claim's verdict is the same under each.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from torch import nn

from settings_helpers import unit_settings
from signgeom.analysis import figure3_claims, selection, tables
from signgeom.analysis.claims import VERDICTS, Claim, ClaimSet, claims_table, verdict
from signgeom.estimate import smoothness
from signgeom.estimate.estimate_settings import SmoothnessSettings
from signgeom.io import read_table
from signgeom.tasks.base import Task
from signgeom.tasks.registry import TASKS
from signgeom.training.run_settings import TrainSettings
from signgeom.training.train import train_run

MODEL = "toy-linear"
N_TRAIN, N_TEST, DIM = 64, 16, 6
SCALES = (2.0, 1.0, 1.0, 0.5, 0.5, 0.25)  # anisotropic inputs: the coordinates differ
GRID = {"sgd": (0.02, 0.08), "signsgd": (0.005, 0.02)}
SEEDS = (0, 1, 2)
EPOCHS = 4
TRAIN = dict(
    model=MODEL, seed=0, epochs=EPOCHS, batch_size=16, train_limit=N_TRAIN, test_limit=N_TEST,
    device="cpu",
)  # fmt: skip
LEVEL = 0.9
OPTIONS = ("raw", "heavy_ball", "radius")  # the headline and the robustness probe options
RADIUS = 0.05  # probe_radius of the radius option


@dataclass
class _Regression:
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


class ToyRegressionTask(Task):
    """Linear least squares on the arrays of an ``.npz`` file (``source``)."""

    name = "toy"
    models = (MODEL,)

    def load(self, source, model, device, train_limit, test_limit):
        self.check_model(model)
        with np.load(source) as f:
            arrays = {k: torch.from_numpy(f[k]).to(device) for k in f.files}
        n_train = N_TRAIN if train_limit is None else train_limit
        n_test = N_TEST if test_limit is None else test_limit
        return _Regression(
            arrays["train_x"][:n_train], arrays["train_y"][:n_train],
            arrays["test_x"][:n_test], arrays["test_y"][:n_test],
        )  # fmt: skip

    def build_model(self, name, data):
        self.check_model(name)
        return nn.Sequential(nn.Linear(data.train_x.shape[1], 1), nn.Flatten(0))

    def loss(self, output, target, reduction="mean"):
        """Squared error per example; their mean or sum."""
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        return nn.functional.mse_loss(output, target.to(output.dtype), reduction=reduction)

    def correct(self, output, target):
        """Examples predicted within 0.5 of their target."""
        return ((output - target).abs() < 0.5).sum()


def _write_data(path: Path) -> Path:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N_TRAIN + N_TEST, DIM)) * np.array(SCALES)
    y = x @ rng.standard_normal(DIM) + 0.3 + 0.1 * rng.standard_normal(N_TRAIN + N_TEST)
    x, y = x.astype(np.float32), y.astype(np.float32)
    np.savez(path, train_x=x[:N_TRAIN], train_y=y[:N_TRAIN], test_x=x[N_TRAIN:], test_y=y[N_TRAIN:])
    return path


def _train(root: Path, data: Path, optimizer: str, lr: float, seed: int) -> Path:
    run = root / f"{optimizer}_{lr:g}_{seed}"
    if not (run / "status.json").exists():
        settings = unit_settings(
            TrainSettings, **{**TRAIN, "seed": seed}, optimizer=optimizer, lr=lr
        )
        status = train_run(settings, batches_dir=data, out_dir=run)
        assert status["status"] == "completed"
    return run / "status.json"


def _claims(tables_: dict, model: str) -> list[Claim]:
    """This task's claims: signSGD ahead on training loss; R_hat above 1 along both."""
    if model not in set(tables_["metrics"]["model"]):
        return []
    common = dict(model=model, min_seeds=3, selections=("sgd", "signsgd"))
    return [
        Claim("toy_loss", statement="toy: signSGD reaches a lower training loss than SGD",
              statistic="exp(mean log L_SGD - mean log L_signSGD), epochs 1..E",
              direction="above", per_seed=partial(figure3_claims.loss_ratio, model=model,
                                                   behind="sgd", ahead="signsgd", tail=1.0),
              **common),
        Claim("toy_rhat", statement="toy: R_hat is above 1",
              statistic="geometric mean of R_hat after epoch 0, both trajectories, plus epoch 0",
              direction="above", estimates=True,
              per_seed=partial(figure3_claims.rhat_pooled, model=model, early_fraction=None),
              **common),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def protocol(tmp_path_factory) -> dict:
    """Grid, selection, selected runs on three seeds, R_hat, tables and claims: the library's
    entry points with the toy task registered under its name."""
    torch.set_num_threads(1)
    patch = pytest.MonkeyPatch()
    patch.setitem(TASKS, ToyRegressionTask.name, ToyRegressionTask())
    root = tmp_path_factory.mktemp("toy")
    data = _write_data(root / "toy.npz")
    try:
        grid = [_train(root, data, o, lr, 0) for o, lrs in GRID.items() for lr in lrs]
        steps = root / "step_sizes.csv"
        selection.main(["--status", *map(str, grid), "--epoch", str(EPOCHS), "--out", str(steps)])
        chosen = read_table(steps)
        lr_of = dict(zip(chosen.optimizer, chosen.lr.astype(float), strict=True))
        selected = {(o, s): _train(root, data, o, lr_of[o], s) for o in GRID for s in SEEDS}
        shards = []
        for ((optimizer, seed), status), option in itertools.product(
            selected.items(), OPTIONS
        ):
            est = unit_settings(
                SmoothnessSettings,
                model=MODEL, trajectory_optimizer=optimizer, n_examples=N_TRAIN, chunk_size=24,
                micro_batch="none", precision="fp64", device="cpu", batched="false",
                probe_step=option, probe_radius=RADIUS,
            )  # fmt: skip
            shards.append(root / f"smoothness_{optimizer}_{seed}_{option}.csv")
            smoothness.estimate_run(
                est, run_dir=status.parent, data_dir=data, step_sizes=steps, out=shards[-1]
            )
        metrics = tables.collect_metrics([*grid, *selected.values()], chosen)
        r_hat = tables.combine_smoothness(shards)
        claim_set = ClaimSet(declare=_claims, screen=figure3_claims.screen,
                             estimates_table="smoothness")  # fmt: skip
        claims = claims_table(
            claim_set, {"metrics": metrics, "smoothness": r_hat}, [MODEL], chosen, LEVEL
        )
        yield {
            "data": data, "grid": grid, "selected": selected, "chosen": chosen,
            "step_sizes": tables.with_final_test_acc(chosen, metrics), "metrics": metrics,
            "smoothness": r_hat, "claims": claims,
        }  # fmt: skip
    finally:
        patch.undo()


def _design(data: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(data) as f:
        x, y = f["train_x"].astype(np.float64), f["train_y"].astype(np.float64)
    return np.hstack([x, np.ones((len(x), 1))]), y


def _parameters(run: Path, epoch: int) -> np.ndarray:
    """(w, b) of the snapshot at ``epoch``, in the model's parameter order."""
    state = torch.load(run / f"snapshots/epoch_{epoch:04d}.pt", map_location="cpu")
    state = state.get("model", state)
    return np.concatenate([state["0.weight"].double().ravel(), state["0.bias"].double()])


def test_every_run_names_the_toy_model_and_task(protocol):
    for status_file in {*protocol["grid"], *protocol["selected"].values()}:
        status = json.loads(Path(status_file).read_text())
        assert status["model"] == MODEL and status["task"] == "toy"
        assert status["status"] == "completed" and status["epochs_completed"] == EPOCHS
    assert set(protocol["metrics"].model) == {MODEL}
    assert len(protocol["metrics"]) == (len(protocol["grid"]) + 2 * 2) * (EPOCHS + 1)


def test_selection_picks_the_largest_training_loss_decrease(protocol):
    decrease = {}
    for status_file in protocol["grid"]:
        status = json.loads(Path(status_file).read_text())
        m = pd.read_csv(Path(status_file).parent / "metrics.csv").set_index("epoch")
        decrease[status["optimizer"], float(status["lr"])] = m.train_loss[0] - m.train_loss[EPOCHS]
    chosen = protocol["chosen"].set_index("optimizer")
    assert sorted(chosen.index) == sorted(GRID)
    for optimizer, lrs in GRID.items():
        best = max(lrs, key=lambda lr: decrease[optimizer, lr])
        assert decrease[optimizer, best] > 0
        assert float(chosen.lr[optimizer]) == best
        assert chosen.train_loss_decrease[optimizer] == pytest.approx(decrease[optimizer, best])
        assert (chosen.grid_min[optimizer], chosen.grid_max[optimizer]) == lrs
    assert protocol["step_sizes"].final_test_acc.between(0, 1).all()


def test_the_initial_loss_is_the_closed_form_at_the_initial_parameters(protocol):
    a, y = _design(protocol["data"])
    for status_file in protocol["selected"].values():
        run = Path(status_file).parent
        theta = _parameters(run, 0)
        loss0 = pd.read_csv(run / "metrics.csv").set_index("epoch").train_loss[0]
        assert loss0 == pytest.approx(np.mean((a @ theta - y) ** 2), rel=1e-5)


def test_r_hat_rows_for_every_seed_and_epoch_are_finite_and_positive(protocol):
    r = protocol["smoothness"]
    for (optimizer, seed), status_file in protocol["selected"].items():
        epochs = json.loads(Path(status_file).read_text())["snapshot_epochs"]
        for option in OPTIONS:
            rows = r[(r.optimizer == optimizer) & (r.seed == seed) & (r.probe_step == option)]
            assert sorted(rows.epoch) == sorted(epochs) and len(epochs) >= 2
    assert len(r) == len(r.drop_duplicates(["optimizer", "seed", "epoch", "probe_step"]))
    radius = r[r.probe_step == "radius"]  # both probes of Euclidean length RADIUS
    np.testing.assert_allclose(radius[["probe_len_gd", "probe_len_sign"]], RADIUS, rtol=1e-9)
    for column in ("R_hat", "L2_hat", "Linf_hat", "phi"):
        assert np.isfinite(r[column]).all() and (r[column] > 0).all()
    d = DIM + 1
    assert (r.d == d).all() and (r.phi >= 1 / d - 1e-12).all() and (r.phi <= 1 + 1e-12).all()


def test_r_hat_of_least_squares_is_the_closed_form_of_its_constant_hessian(protocol):
    a, y = _design(protocol["data"])
    n = len(y)
    hessian = 2 * a.T @ a / n
    r = protocol["smoothness"].set_index(["probe_step", "optimizer", "seed", "epoch"])
    for ((optimizer, seed), status_file), option in itertools.product(
        protocol["selected"].items(), OPTIONS
    ):
        run = Path(status_file).parent
        for epoch in (0, EPOCHS):
            g = 2 * a.T @ (a @ _parameters(run, epoch) - y) / n
            d = len(g)
            phi = np.abs(g).sum() ** 2 / (d * g @ g)
            l2 = np.linalg.norm(hessian @ g) / np.linalg.norm(g)
            linf = np.abs(hessian @ np.sign(g)).sum()
            row = r.loc[option, optimizer, seed, epoch]
            assert row.phi == pytest.approx(phi, rel=1e-9)
            assert row.L2_hat == pytest.approx(l2, rel=1e-6)
            assert row.Linf_hat == pytest.approx(linf, rel=1e-6)
            assert row.R_hat == pytest.approx(phi * d * l2 / linf, rel=1e-6)


def _geomean(values) -> float:
    return float(np.exp(np.mean(np.log(np.asarray(values, dtype=float)))))


def test_the_claims_rest_on_three_seeds_with_a_verdict_from_their_interval(protocol):
    claims = protocol["claims"].set_index("claim")
    assert list(claims.index) == ["toy_loss", "toy_rhat"]
    m = protocol["metrics"]
    m = m[m.selected.astype(bool)]
    r = protocol["smoothness"]
    r = r[r.probe_step == "raw"]  # the headline
    want = {"toy_loss": {}, "toy_rhat": {}}
    for seed in SEEDS:
        curves = m[m.seed == seed].pivot_table(index="epoch", columns="optimizer",
                                               values="train_loss")  # fmt: skip
        tail = curves.loc[1:EPOCHS]
        want["toy_loss"][seed] = _geomean(tail.sgd) / _geomean(tail.signsgd)
        est = r[r.seed == seed]
        points = list(np.log(est[est.epoch > 0].R_hat))
        points.append(np.log(est[est.epoch == 0].R_hat).mean())
        want["toy_rhat"][seed] = float(np.exp(np.mean(points)))
    for name, row in claims.iterrows():
        assert row.n_seeds == 3 and row.min_seeds == 3 and row.model == MODEL
        per_seed = dict(item.split(":") for item in row.per_seed.split())
        assert sorted(map(int, per_seed)) == list(SEEDS)
        for seed, value in per_seed.items():
            assert float(value) == pytest.approx(want[name][int(seed)], rel=1e-3)
        assert row.value == pytest.approx(_geomean(list(want[name].values())), rel=1e-9)
        logs = np.log(list(want[name].values()))
        half = stats.t.ppf((1 + LEVEL) / 2, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(3)
        assert (row.lo, row.hi) == pytest.approx(np.exp([logs.mean() - half, logs.mean() + half]))
        assert row.verdict in VERDICTS
        holds, fails = row.lo > 1, row.hi < 1
        assert row.verdict == ("holds" if holds else "fails" if fails else "inconclusive")
        assert row.verdict == verdict("above", row.lo, row.hi, 1.0)
        # a two-point grid: every choice is at its edge, and the claims say so
        assert "sgd lr" in row.grid_edge and "signsgd lr" in row.grid_edge
        for option in ("heavy_ball", "radius"):  # the same R_hat: the same verdicts
            robust, value = row[f"verdict_{option}"], row[f"value_{option}"]
            if name == "toy_loss":  # not a claim on estimates
                assert robust == "n/a" and math.isnan(value)
            else:
                assert robust == row.verdict and value == pytest.approx(row.value, rel=1e-6)
