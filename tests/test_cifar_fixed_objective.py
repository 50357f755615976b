"""The fixed objective and the snapshot loop shared by the estimators: both the smoothness and
the Hessian estimate run the network in the configured precision and layout, the loss they
report is the objective's (checked against an independent float64 evaluation), and a setting
neither can honour is refused by name."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from settings_helpers import unit_settings
from signgeom.estimate import hessian, smoothness
from signgeom.estimate.estimate_settings import EstimateSettings, SmoothnessSettings
from signgeom.estimate.fixed_objective import (
    MICRO_BATCH_BY_DEVICE,
    compiled,
    couples_examples,
    fixed_mode,
    full_gradient,
    load_objective,
    make_chunks,
    mean_loss,
    pass_size,
)
from signgeom.tasks.cifar.data import load_cifar10
from signgeom.tasks.cifar.models import MODELS
from signgeom.training.run_settings import TrainSettings
from signgeom.training.train import train_run

DATA = Path(__file__).resolve().parents[1] / "data/cifar10-subset/cifar-10-batches-py"
N_IMAGES = 24
SEEN: list[tuple[torch.dtype, bool]] = []  # (dtype, channels_last) of every forward input


class Recording(nn.Module):
    """Conv -> batch norm -> linear, recording the dtype and layout of what it is fed."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, stride=4)
        self.bn = nn.BatchNorm2d(2)
        self.fc = nn.Linear(2 * 8 * 8, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        SEEN.append((x.dtype, x.is_contiguous(memory_format=torch.channels_last)))
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    if not DATA.is_dir():
        pytest.skip("bundled CIFAR subset missing")
    MODELS["recording"] = Recording
    run = tmp_path_factory.mktemp("toy") / "run"
    try:
        settings = unit_settings(
            TrainSettings,
            model="recording", optimizer="sgd", lr=0.05, seed=1, epochs=1, batch_size=12,
            train_limit=N_IMAGES, test_limit=12, device="cpu",
        )  # fmt: skip
        train_run(settings, batches_dir=DATA, out_dir=run)
        yield run
    finally:
        del MODELS["recording"]


def _float64_loss(run: Path, epoch: int) -> float:
    """The objective at a snapshot, evaluated here in float64 without the library's loader."""
    data = load_cifar10(DATA, train_limit=N_IMAGES, test_limit=0)
    net = Recording().double()
    net.load_state_dict(torch.load(run / f"snapshots/epoch_{epoch:04d}.pt", weights_only=True))
    chunks = make_chunks(data.train_x.double(), data.train_y, N_IMAGES, 10)
    with fixed_mode(net, "batch_stats"):
        return mean_loss(net, F.cross_entropy, chunks)


HESSIAN_SETTINGS = dict(
    top_k=1, lanczos_tol=1e-6, lanczos_ncv=8, n_probes=2, block_size=3, n_random_blocks=1,
    n_contiguous_blocks=1, slq_steps=4, slq_repeats=1, max_exact_dim=8, seed=0,
)  # fmt: skip


def _hessian_argv(run: Path, out: Path, precision: str, channels_last: bool) -> list[str]:
    flags = {
        "model": "recording", "run-dir": run, "trajectory-optimizer": "sgd", "stride": 1,
        "slq-every": 1, "bn-mode": "batch_stats", "n-examples": N_IMAGES, "chunk-size": 10,
        "data-dir": DATA, "device": "cpu", "precision": precision,
        "channels-last": str(channels_last).lower(), "out": out / "epochs.csv",
        "out-blocks": out / "blocks.csv", "out-density": out / "density.csv",
    }  # fmt: skip
    flags |= {k.replace("_", "-"): v for k, v in HESSIAN_SETTINGS.items()}
    return [str(a) for k, v in flags.items() for a in (f"--{k}", v)]


@pytest.mark.parametrize(("precision", "channels_last"), [("fp32", False), ("fp64", True)])
def test_hessian_cli_honours_precision_and_layout(toy_run, tmp_path, precision, channels_last):
    SEEN.clear()
    hessian.main(_hessian_argv(toy_run, tmp_path, precision, channels_last))
    dtype = torch.float64 if precision == "fp64" else torch.float32
    assert SEEN and set(SEEN) == {(dtype, channels_last)}
    rows = pd.read_csv(tmp_path / "epochs.csv")
    assert list(rows.epoch) == [0, 1] and set(rows.optimizer) == {"sgd"} and set(rows.seed) == {1}
    assert len(pd.read_csv(tmp_path / "blocks.csv")) == 2 * 3  # random, contiguous, last layer
    for epoch, loss in zip(rows.epoch, rows.loss, strict=True):
        exact = _float64_loss(toy_run, epoch)
        if precision == "fp64":
            assert loss == pytest.approx(exact, rel=1e-12)
        else:  # float32 rounding, visible but small
            assert loss == pytest.approx(exact, rel=1e-5) and loss != pytest.approx(exact, 1e-12)


def test_hessian_in_fp64_and_fp32_agree_to_float32_rounding(toy_run, tmp_path):
    """Same seeds, same probes: the fp32 estimate is the fp64 one up to rounding."""
    tables = {}
    for precision in ("fp32", "fp64"):
        out = tmp_path / precision
        out.mkdir()
        hessian.main(_hessian_argv(toy_run, out, precision, False))
        tables[precision] = pd.read_csv(out / "epochs.csv")
    for column in ("lambda_max", "trace", "phi", "rho_diag_last_layer"):
        got, want = tables["fp32"][column], tables["fp64"][column]
        assert got.to_numpy() == pytest.approx(want.to_numpy(), rel=1e-3), column


def test_smoothness_honours_precision_and_layout(toy_run, tmp_path):
    steps = tmp_path / "step_sizes.csv"
    steps.write_text("model,optimizer,lr\nrecording,sgd,0.05\nrecording,signsgd,0.001\n")
    SEEN.clear()
    settings = unit_settings(
        SmoothnessSettings,
        model="recording", trajectory_optimizer="sgd", gammas=[1.0], n_examples=N_IMAGES,
        chunk_size=10, device="cpu", precision="fp64", channels_last=True, batched=False,
    )  # fmt: skip
    rows = smoothness.estimate_run(
        settings, run_dir=toy_run, data_dir=DATA, step_sizes=steps, out=tmp_path / "shard0.csv"
    )
    assert SEEN and set(SEEN) == {(torch.float64, True)}
    assert [r["epoch"] for r in rows] == [0, 1]
    assert list(pd.read_csv(tmp_path / "shard0.csv").precision) == ["fp64", "fp64"]


@pytest.mark.parametrize(
    ("change", "word"),
    [({"precision": "bf16"}, "precision"), ({"bn_mode": "eval"}, "bn_mode")],
)
def test_a_setting_the_estimators_cannot_honour_is_refused_by_name(change, word):
    with pytest.raises(ValueError, match=word):
        unit_settings(EstimateSettings, **{"model": "cnn", "trajectory_optimizer": "sgd", **change})


def test_full_gradient_and_mean_loss_weight_uneven_chunks_by_size():
    """Chunks of 3 and 2 examples give the gradient and loss of all 5 at once."""
    torch.manual_seed(0)
    net = nn.Linear(4, 3).double()
    x, y = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 2, 1, 1, 0])
    chunks = make_chunks(x, y, None, 3)
    params = list(net.parameters())
    whole = F.cross_entropy(net(x), y)
    want = torch.cat([g.reshape(-1) for g in torch.autograd.grad(whole, params)])
    torch.testing.assert_close(full_gradient(net, F.cross_entropy, chunks, params), want)
    assert mean_loss(net, F.cross_entropy, chunks) == pytest.approx(float(whole), rel=1e-14)


def test_hessian_cli_in_rotated_coordinates(tmp_path, monkeypatch):
    """A run trained at theta > 0: ``--rotated-coordinates true`` rebuilds its rotation from
    status.json; the spectrum is invariant, the blocks and phi are those of R H R^T."""
    if not DATA.is_dir():
        pytest.skip("bundled CIFAR subset missing")
    monkeypatch.setitem(MODELS, "recording", Recording)  # restored after, fixture or not
    run = tmp_path / "run"
    settings = unit_settings(
        TrainSettings,
        model="recording", optimizer="signsgd", lr=1e-3, seed=1, epochs=1, batch_size=12,
        train_limit=N_IMAGES, test_limit=12, device="cpu", rotation_theta=0.7,
        rotation_block_size=4,
    )  # fmt: skip
    train_run(settings, batches_dir=DATA, out_dir=run)
    tables = {}
    for rotated in ("false", "true"):
        out = tmp_path / rotated
        out.mkdir()
        argv = _hessian_argv(run, out, "fp64", False)
        argv[argv.index("--trajectory-optimizer") + 1] = "signsgd"
        argv[argv.index("--stride") + 1] = "2"  # the last snapshot only
        argv[argv.index("--slq-every") + 1] = "0"
        hessian.main([*argv, "--rotated-coordinates", rotated])
        tables[rotated] = (pd.read_csv(out / "epochs.csv"), pd.read_csv(out / "blocks.csv"))
    (plain, plain_blocks), (rot, rot_blocks) = tables["false"], tables["true"]
    assert "rotation_theta" not in plain.columns
    assert set(rot.rotation_theta) == {0.7} and set(rot.rotation_block_size) == {4}
    assert rot.lambda_max.to_numpy() == pytest.approx(plain.lambda_max.to_numpy(), rel=1e-6)
    assert not (rot.phi.to_numpy() == pytest.approx(plain.phi.to_numpy(), rel=1e-3))
    assert not (
        rot_blocks.rho_diag.to_numpy() == pytest.approx(plain_blocks.rho_diag.to_numpy(), rel=1e-3)
    )


@pytest.mark.parametrize(
    ("model", "bn_mode", "coupled"),
    [("cnn", "batch_stats", False), ("recording", "running_stats", False),
     ("recording", "batch_stats", True)],
)  # fmt: skip
def test_micro_batches_are_the_same_objective_unless_batch_norm_couples_the_chunk(
    model, bn_mode, coupled
):
    """Gradient over chunks of 12 against passes of 5, 5, 2 per chunk (float64): equal where
    no batch statistics couple a chunk's images; where they do, pieces are another objective,
    and ``pass_size`` keeps the chunk."""
    torch.manual_seed(0)
    net = (Recording() if model == "recording" else MODELS[model]()).double()
    x, y = torch.randn(24, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (24,))
    params = list(net.parameters())
    with fixed_mode(net, bn_mode):
        whole = full_gradient(net, F.cross_entropy, make_chunks(x, y, None, 12), params)
        size = pass_size("5", 12, net, bn_mode, torch.device("cpu"))
        pieces = [p for c in make_chunks(x, y, None, 12) for p in make_chunks(*c, None, 5)]
        in_pieces = full_gradient(net, F.cross_entropy, pieces, params)
    assert couples_examples(net, bn_mode) is coupled
    assert size == (12 if coupled else 5)
    close = torch.allclose(in_pieces, whole, rtol=1e-10, atol=1e-14)
    assert close is not coupled


def test_pass_size_choices():
    net, cpu, cuda = nn.Linear(2, 2), torch.device("cpu"), torch.device("cuda")
    assert pass_size("auto", 1034, net, "batch_stats", cpu) == MICRO_BATCH_BY_DEVICE["cpu"]
    assert pass_size("auto", 100, net, "batch_stats", cpu) == 100  # never above the chunk
    assert pass_size("auto", 5000, net, "batch_stats", cuda) == 5000
    assert pass_size("none", 1034, net, "batch_stats", cpu) == 1034
    assert pass_size("64", 1034, net, "running_stats", cuda) == 64


@pytest.mark.parametrize("bad", ["0", "-3", "many", "1.5"])
def test_micro_batch_setting_refuses_what_is_not_a_size(bad):
    with pytest.raises(ValueError, match="micro_batch"):
        unit_settings(EstimateSettings, model="cnn", trajectory_optimizer="sgd", micro_batch=bad)


def test_load_objective_passes_micro_batches_only_where_examples_are_independent(monkeypatch):
    if not DATA.is_dir():
        pytest.skip("bundled CIFAR subset missing")
    monkeypatch.setitem(MODELS, "recording", Recording)
    sizes = {}
    for model in ("cnn", "recording"):
        for micro in ("5", "none"):
            settings = unit_settings(
                EstimateSettings,
                model=model, trajectory_optimizer="sgd", n_examples=N_IMAGES, chunk_size=10,
                micro_batch=micro, device="cpu",
            )  # fmt: skip
            chunks, _ = load_objective(settings, DATA, torch.device("cpu"))
            sizes[model, micro] = [len(y) for _, y in chunks]
    assert sizes["cnn", "5"] == [5, 5, 5, 5, 4]
    assert sizes["cnn", "none"] == sizes["recording", "5"] == [10, 10, 4]
    assert sizes["recording", "none"] == [10, 10, 4]


def test_micro_batched_estimate_equals_the_whole_chunk_estimate_on_a_trained_cnn(tmp_path):
    """R_hat etc. of the CNN after an epoch, in float64: passes of 8 images against chunks of
    24, equal to rounding (the smoothness job with ``micro_batch`` 8 and ``none``)."""
    if not DATA.is_dir():
        pytest.skip("bundled CIFAR subset missing")
    run = tmp_path / "run"
    train = unit_settings(
        TrainSettings,
        model="cnn", optimizer="sgd", lr=0.05, seed=1, epochs=1, batch_size=12,
        train_limit=N_IMAGES, test_limit=12, device="cpu",
    )  # fmt: skip
    train_run(train, batches_dir=DATA, out_dir=run)
    steps = tmp_path / "step_sizes.csv"
    steps.write_text("model,optimizer,lr\ncnn,sgd,0.05\ncnn,signsgd,0.001\n")
    tables = {}
    for micro in ("8", "none"):
        settings = unit_settings(
            SmoothnessSettings,
            model="cnn", trajectory_optimizer="sgd", n_examples=N_IMAGES, chunk_size=24,
            device="cpu", precision="fp64", micro_batch=micro, batched=False,
        )  # fmt: skip
        out = tmp_path / f"{micro}.csv"
        smoothness.estimate_run(settings, run_dir=run, data_dir=DATA, step_sizes=steps, out=out)
        tables[micro] = pd.read_csv(out)
    for column in ("phi", "L2_hat", "Linf_hat", "R_hat", "grad_norm2"):
        got, want = tables["8"][column].to_numpy(), tables["none"][column].to_numpy()
        assert got == pytest.approx(want, rel=1e-9), column


@pytest.mark.parametrize("model", ["cnn", "resnet20"])
def test_estimates_are_the_same_in_either_layout(model):
    """phi, L2_hat, Linf_hat and R_hat in float64: NHWC (``channels_last``) against NCHW,
    equal to rounding; the layout is a speed setting, not part of the objective (with batch
    norm's batch statistics, ResNet20, too)."""
    torch.manual_seed(0)
    state = MODELS[model]().double().state_dict()
    x, y = torch.randn(8, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (8,))
    values = {}
    for fmt in (torch.channels_last, torch.contiguous_format):
        net = MODELS[model]().double()
        net.load_state_dict(state)
        net = net.to(memory_format=fmt)
        chunks = make_chunks(x.contiguous(memory_format=fmt), y, None, 4)
        est = smoothness.estimate_smoothness(
            net, F.cross_entropy, chunks, alpha_gd=0.05, alpha_sign=0.001, gammas=(0.5, 1.0)
        )
        values[fmt] = (est.phi, est.L2_hat, est.Linf_hat, est.R_hat)
        assert next(p for p in net.parameters() if p.dim() == 4).is_contiguous(memory_format=fmt)
    got, want = values[torch.channels_last], values[torch.contiguous_format]
    assert got == pytest.approx(want, rel=1e-9)


def test_compiled_network_sees_the_snapshots_loaded_into_the_model():
    """``compiled`` shares the model's parameters: a state loaded into the model afterwards (as
    the snapshot loop does) is what the compiled forward computes with."""
    torch.manual_seed(0)
    net, other = nn.Linear(6, 3), nn.Linear(6, 3)
    forward = compiled(net)
    x = torch.randn(5, 6)
    torch.testing.assert_close(forward(x), net(x))
    net.load_state_dict(other.state_dict())
    torch.testing.assert_close(forward(x), other(x))


@pytest.mark.slow
def test_smoothness_through_the_compiled_network_matches_the_plain_one(
    toy_run, tmp_path, monkeypatch
):
    """``compile: true``: the shard's estimates go through the compiled network and equal the
    plain network's to fp32 rounding (the same objective, other kernels)."""
    made = []
    monkeypatch.setattr(smoothness, "compiled", lambda net: made.append(net) or compiled(net))
    steps = tmp_path / "step_sizes.csv"
    steps.write_text("model,optimizer,lr\nrecording,sgd,0.05\nrecording,signsgd,0.001\n")
    tables = {}
    for compile_ in (False, True):
        settings = unit_settings(
            SmoothnessSettings,
            model="recording", trajectory_optimizer="sgd", n_examples=N_IMAGES, chunk_size=12,
            device="cpu", precision="fp32", compile=compile_, batched="auto",
        )  # fmt: skip
        out = tmp_path / f"{compile_}.csv"
        smoothness.estimate_run(settings, run_dir=toy_run, data_dir=DATA, step_sizes=steps, out=out)
        tables[compile_] = pd.read_csv(out)
        assert len(made) == int(compile_)
    for column in ("phi", "L2_hat", "Linf_hat", "R_hat", "grad_norm2"):
        got, want = tables[True][column].to_numpy(), tables[False][column].to_numpy()
        assert got == pytest.approx(want, rel=1e-4), column


def test_compile_with_batched_probes_is_refused_by_name():
    with pytest.raises(ValueError, match="cifar.smoothness.compile"):
        unit_settings(
            SmoothnessSettings, model="cnn", trajectory_optimizer="sgd", compile=True, batched=True
        )
