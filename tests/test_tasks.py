"""The task interface: the character LM trains and is estimated through the CIFAR code path."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from settings_helpers import unit_settings
from signgeom.estimate import smoothness
from signgeom.estimate.estimate_settings import SmoothnessSettings
from signgeom.estimate.fixed_objective import load_objective
from signgeom.tasks.base import Task
from signgeom.tasks.charlm.task import SIZES, CharLMTask
from signgeom.tasks.charlm.transformer import parameter_count
from signgeom.tasks.cifar.task import Cifar10Task
from signgeom.tasks.registry import TASKS, all_models, task_for_model
from signgeom.training.run_settings import TrainSettings
from signgeom.training.train import train_run

PROSE = Path(__file__).resolve().parents[1] / "data/pydoc-prose/pydoc-prose.txt"
TINY_LM = dict(
    model="transformer-tiny",
    seed=5,
    epochs=2,
    batch_size=16,
    train_limit=64,
    test_limit=16,
    device="cpu",
)
LRS = {"sgd": 0.3, "signsgd": 3e-3, "adam": 3e-3}


def test_every_model_has_exactly_one_task():
    for model in all_models():
        owners = [t.name for t in TASKS.values() if model in t.models]
        assert owners == [task_for_model(model).name]
    assert task_for_model("resnet20").name == "cifar10"
    assert task_for_model("transformer-cpu").name == "charlm"
    with pytest.raises(ValueError, match="unknown model 'gpt9'.*transformer-cpu"):
        task_for_model("gpt9")


@pytest.mark.parametrize(
    ("task", "output", "target"),
    [
        (Cifar10Task(), torch.randn(6, 10), torch.randint(0, 10, (6,))),
        (CharLMTask(), torch.randn(6, 5, 7), torch.randint(0, 7, (6, 5))),
    ],
)
def test_loss_sum_is_the_example_count_times_the_mean(task, output, target):
    mean, total = task.loss(output, target), task.loss(output, target, reduction="sum")
    assert float(total) == pytest.approx(target.shape[0] * float(mean), rel=1e-6)
    halves = [task.loss(output[i : i + 3], target[i : i + 3], "sum") for i in (0, 3)]
    assert float(sum(halves)) == pytest.approx(float(total), rel=1e-6)


def test_charlm_accuracy_is_the_share_of_predicted_characters():
    task = CharLMTask()
    target = torch.tensor([[0, 1, 2, 3], [3, 3, 3, 3]])
    output = torch.nn.functional.one_hot(torch.tensor([[0, 1, 0, 0], [3, 3, 3, 3]]), 4).float()
    assert float(task.correct(output, target)) == pytest.approx(0.5 + 1.0)


def test_charlm_refuses_image_only_settings():
    with pytest.raises(ValueError, match="augmentation 'keras'"):
        train_run(
            unit_settings(TrainSettings, **TINY_LM, optimizer="sgd", lr=0.1, augmentation="keras"),
            batches_dir=PROSE,
            out_dir="unused",
        )


@pytest.fixture(scope="module")
def lm_runs(tmp_path_factory) -> dict[str, Path]:
    """Two epochs of 4 steps of the tiny transformer per optimizer, through ``train_run``."""
    root = tmp_path_factory.mktemp("lm")
    runs = {}
    for optimizer, lr in LRS.items():
        settings = unit_settings(TrainSettings, **TINY_LM, optimizer=optimizer, lr=lr)
        runs[optimizer] = root / optimizer
        status = train_run(settings, batches_dir=PROSE, out_dir=runs[optimizer])
        assert status["status"] == "completed" and status["snapshot_epochs"] == [0, 1, 2]
    return runs


@pytest.mark.parametrize("optimizer", sorted(LRS))
def test_the_tiny_transformer_trains_with_each_optimizer(lm_runs, optimizer):
    metrics = pd.read_csv(lm_runs[optimizer] / "metrics.csv")
    assert list(metrics.epoch) == [0, 1, 2]
    assert metrics.train_loss[0] == pytest.approx(math.log(103), rel=0.02)  # ~ ln(vocabulary)
    assert metrics.train_loss[2] < metrics.train_loss[1] < metrics.train_loss[0]
    assert metrics.train_acc.between(0, 1).all() and metrics.test_acc.between(0, 1).all()
    assert metrics.train_acc[2] > metrics.train_acc[0]


def test_same_seed_same_trajectory(lm_runs, tmp_path):
    settings = unit_settings(TrainSettings, **TINY_LM, optimizer="signsgd", lr=LRS["signsgd"])
    train_run(settings, batches_dir=PROSE, out_dir=tmp_path)
    again, first = (
        pd.read_csv(tmp_path / "metrics.csv"),
        pd.read_csv(lm_runs["signsgd"] / "metrics.csv"),
    )
    columns = ["train_loss", "train_acc", "test_acc", "train_loss_eval"]
    pd.testing.assert_frame_equal(again[columns], first[columns])


def _smoothness(run: Path, tmp_path: Path, chunk_size: int, batched: bool) -> pd.DataFrame:
    steps = tmp_path / "step_sizes.csv"
    rows = [f"transformer-tiny,{o},{lr}" for o, lr in LRS.items()]
    steps.write_text("model,optimizer,lr\n" + "\n".join(rows) + "\n")
    settings = unit_settings(
        SmoothnessSettings,
        model="transformer-tiny", trajectory_optimizer="sgd", n_examples=16,
        chunk_size=chunk_size, micro_batch="none", gammas=(0.5, 1.0), precision="fp64",
        device="cpu", batched="true" if batched else "false",
    )  # fmt: skip
    out = tmp_path / f"r_{chunk_size}_{batched}.csv"
    smoothness.estimate_run(settings, run_dir=run, data_dir=PROSE, step_sizes=steps, out=out)
    return pd.read_csv(out)


def test_r_hat_along_the_trajectory_through_the_smoothness_estimator(lm_runs, tmp_path):
    table = _smoothness(lm_runs["sgd"], tmp_path, chunk_size=16, batched=False)
    d = parameter_count(SIZES["transformer-tiny"], 103)
    assert list(table.epoch) == [0, 1, 2]
    assert (table.d == d).all() and (table.n_examples == 16).all()
    assert ((table.phi >= 1 / d) & (table.phi <= 1)).all()
    assert (table.R_hat > 0).all() and table.R_hat.map(math.isfinite).all()
    want = table.phi * table.d * table.L2_hat / table.Linf_hat
    assert table.R_hat.to_numpy() == pytest.approx(want.to_numpy(), rel=1e-12)
    # sequences are independent examples: other chunks or vmapped probes, the same objective
    for chunk_size, batched in ((5, True),):
        other = _smoothness(lm_runs["sgd"], tmp_path, chunk_size, batched)
        for column in ("phi", "L2_hat", "Linf_hat", "R_hat", "grad_norm2"):
            assert other[column].to_numpy() == pytest.approx(table[column].to_numpy(), rel=1e-9)


def test_the_estimation_set_is_the_first_training_sequences(tmp_path):
    settings = unit_settings(
        SmoothnessSettings,
        model="transformer-tiny", trajectory_optimizer="sgd", n_examples=10, chunk_size=4,
        micro_batch="none", precision="fp64", device="cpu",
    )  # fmt: skip
    chunks, net = load_objective(settings, PROSE, torch.device("cpu"))
    data = CharLMTask().load(PROSE, "transformer-tiny", "cpu", 10, 0)
    assert [y.shape[0] for _, y in chunks] == [4, 4, 2]
    assert torch.equal(torch.cat([x for x, _ in chunks]), data.train_x)  # ids stay int64
    assert next(net.parameters()).dtype == torch.float64


class _Blobs:
    """Two Gaussian blobs in 4 dimensions (the test task's data)."""

    def __init__(self, n_train: int, n_test: int) -> None:
        gen = torch.Generator().manual_seed(0)
        y = torch.arange(n_train + n_test) % 2
        x = torch.randn(n_train + n_test, 4, generator=gen) + 2.0 * (2 * y[:, None] - 1)
        self.train_x, self.test_x = x[:n_train], x[n_train:]
        self.train_y, self.test_y = y[:n_train], y[n_train:]


class BlobsTask(Task):
    """A task defined here: logistic regression on two blobs, one module's worth of code."""

    name = "blobs"
    models = ("logreg",)

    def load(self, source, model, device, train_limit, test_limit):
        return _Blobs(train_limit or 96, 32 if test_limit is None else test_limit)

    def build_model(self, name, data):
        return torch.nn.Linear(4, 2)

    def loss(self, output, target, reduction="mean"):
        return torch.nn.functional.cross_entropy(output, target, reduction=reduction)

    def correct(self, output, target):
        return (output.argmax(1) == target).sum()


def test_a_task_defined_here_trains_and_is_estimated_unchanged(tmp_path, monkeypatch):
    monkeypatch.setitem(TASKS, "blobs", BlobsTask())
    settings = unit_settings(
        TrainSettings,
        model="logreg", optimizer="signsgd", lr=0.05, seed=1, epochs=3, batch_size=16,
        device="cpu",
    )  # fmt: skip
    status = train_run(settings, batches_dir="unused", out_dir=tmp_path / "run")
    metrics = pd.read_csv(tmp_path / "run/metrics.csv")
    assert status["status"] == "completed" and metrics.train_loss.iloc[-1] < metrics.train_loss[0]
    assert metrics.test_acc.iloc[-1] > 0.9
    steps = tmp_path / "steps.csv"
    steps.write_text("model,optimizer,lr\nlogreg,sgd,0.1\nlogreg,signsgd,0.05\n")
    est = unit_settings(
        SmoothnessSettings,
        model="logreg", trajectory_optimizer="signsgd", n_examples=64, chunk_size=64,
        micro_batch="none", precision="fp64", device="cpu",
    )  # fmt: skip
    rows = smoothness.estimate_run(
        est, run_dir=tmp_path / "run", data_dir="unused", step_sizes=steps, out=tmp_path / "r.csv"
    )
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3] and all(r["d"] == 10 for r in rows)
    assert all(r["R_hat"] > 0 for r in rows)


def test_similarity_to_signsgd_along_lm_trajectories(lm_runs, tmp_path):
    from signgeom.estimate.similarity import similarity_run

    tables = {}
    for optimizer in ("signsgd", "adam"):
        tables[optimizer] = pd.DataFrame(
            similarity_run(
                model="transformer-tiny", run_dir=lm_runs[optimizer], warmup_steps=3,
                batch_size=8, momentum=0.9, bn_mode="batch_stats", train_limit=32,
                data_dir=PROSE, device="cpu", out=tmp_path / f"{optimizer}.csv",
            )
        )  # fmt: skip
    d = parameter_count(SIZES["transformer-tiny"], 103)
    assert list(tables["adam"].epoch) == [0, 1, 2] and (tables["adam"].d == d).all()
    assert (tables["signsgd"].sign_agreement == 1).all()  # signSGD's update is its own
    assert tables["signsgd"].cosine.to_numpy() == pytest.approx(1.0, abs=1e-6)
    assert tables["adam"].sign_agreement.between(0, 1).all()
    assert (tables["adam"].cosine.abs() <= 1 + 1e-6).all()


def test_the_hessian_loss_is_the_tasks_loss_or_a_clear_refusal():
    out, y = torch.randn(6, 10), torch.randint(0, 10, (6,))
    module = Cifar10Task().hessian_loss()
    assert module.reduction == "mean"
    assert float(module(out, y)) == float(Cifar10Task().loss(out, y))
    logits, ids = torch.randn(3, 5, 7), torch.randint(0, 7, (3, 5))
    module = CharLMTask().hessian_loss()
    assert module.reduction == "mean"
    assert float(module(logits, ids)) == float(CharLMTask().loss(logits, ids))

    class NoHessian(CharLMTask):
        name = "nohessian"
        hessian_loss = Task.hessian_loss

    with pytest.raises(NotImplementedError, match="task 'nohessian'"):
        NoHessian().hessian_loss()


def test_probe_sensitivity_at_factor_one_is_the_smoothness_estimate(lm_runs, tmp_path):
    from signgeom.estimate.estimate_settings import SensitivitySettings
    from signgeom.estimate.sensitivity import sensitivity_run

    table = _smoothness(lm_runs["sgd"], tmp_path, chunk_size=16, batched=False)
    settings = unit_settings(
        SensitivitySettings,
        model="transformer-tiny", trajectory_optimizer="sgd", n_examples=16, chunk_size=16,
        micro_batch="none", gammas=(0.5, 1.0), precision="fp64", device="cpu", n_epochs=2,
        factors=(1.0, 3.0),
    )  # fmt: skip
    rows = pd.DataFrame(
        sensitivity_run(
            settings, run_dir=lm_runs["sgd"], data_dir=PROSE,
            step_sizes=tmp_path / "step_sizes.csv", out=tmp_path / "sens.csv",
        )
    )  # fmt: skip
    assert sorted(set(rows.epoch)) == [0, 2]
    at_one = rows[rows.factor == 1.0].groupby("epoch").R_hat.first()
    want = table.set_index("epoch").R_hat.loc[[0, 2]]
    assert at_one.to_numpy() == pytest.approx(want.to_numpy(), rel=1e-12)


def test_a_named_entry_trains_its_architecture_and_reports_the_held_out_loss(lm_runs, tmp_path):
    """A run named ``lm-b8`` with architecture ``transformer-tiny`` follows the trajectory of the
    run named ``transformer-tiny`` (same network, data and draws); its rows and status carry its
    own name, and ``test_loss`` is the held-out mean loss (about ln 103 at the start)."""
    settings = unit_settings(
        TrainSettings, **{**TINY_LM, "model": "lm-b8"}, architecture="transformer-tiny",
        optimizer="sgd", lr=LRS["sgd"],
    )  # fmt: skip
    status = train_run(settings, batches_dir=PROSE, out_dir=tmp_path / "run")
    assert (status["model"], status["architecture"]) == ("lm-b8", "transformer-tiny")
    named, plain = (pd.read_csv(p / "metrics.csv") for p in (tmp_path / "run", lm_runs["sgd"]))
    columns = ["train_loss", "train_acc", "test_acc", "train_loss_eval", "test_loss"]
    pd.testing.assert_frame_equal(named[columns], plain[columns])
    assert named.test_loss[0] == pytest.approx(math.log(103), rel=0.02)
    assert named.test_loss[2] < named.test_loss[0]
    steps = tmp_path / "step_sizes.csv"
    rows = "".join(f"lm-b8,{o},{lr}\n" for o, lr in LRS.items())
    steps.write_text("model,optimizer,lr\n" + rows)
    estimate = unit_settings(
        SmoothnessSettings, model="lm-b8", architecture="transformer-tiny",
        trajectory_optimizer="sgd",
        n_examples=16, chunk_size=16, micro_batch="none", precision="fp64", device="cpu",
        batched="false",
    )  # fmt: skip
    out = tmp_path / "r.csv"
    smoothness.estimate_run(estimate, run_dir=tmp_path / "run", data_dir=PROSE, step_sizes=steps,
                            out=out)  # fmt: skip
    table, reference = pd.read_csv(out), _smoothness(lm_runs["sgd"], tmp_path, 16, False)
    assert (table.model == "lm-b8").all()
    assert table.R_hat.tolist() == reference.R_hat.tolist()
