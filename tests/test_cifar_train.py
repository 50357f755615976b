"""Training loop: bitwise kill-and-resume, forced divergence, epoch-seeded shuffling."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from settings_helpers import unit_settings
from signgeom.training.run_settings import TrainSettings
from signgeom.training.train import epoch_seed, train_epoch, train_run

DATA = Path(__file__).resolve().parents[1] / "data/cifar10-subset/cifar-10-batches-py"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="bundled CIFAR subset missing")
TINY = dict(
    model="cnn",
    optimizer="sgd",
    lr=0.01,
    seed=3,
    epochs=3,
    batch_size=50,
    train_limit=200,
    test_limit=100,
)


def _settings(**kw) -> TrainSettings:
    return unit_settings(TrainSettings, **{"device": "cpu", **TINY, **kw})


def _train(out_dir: Path, **kw) -> dict:
    """``train_run`` of ``TINY`` on the CPU, with the settings ``kw`` changed."""
    return train_run(_settings(**kw), batches_dir=DATA, out_dir=out_dir)


# The training CLI in a child process that sends itself SIGKILL right after its (k+1)-th
# checkpoint, the one of epoch k (epoch 0, the initial point, is checkpointed too).
KILLED_AFTER_EPOCH = """
import os, signal, sys
from signgeom.training import train
epoch, real_save, saved = int(sys.argv[1]), train.save_checkpoint, []

def save_then_die(*args, **kwargs):
    real_save(*args, **kwargs)
    saved.append(1)
    if len(saved) == epoch + 1:
        os.kill(os.getpid(), signal.SIGKILL)

train.save_checkpoint = save_then_die
raise SystemExit(train.run_cli(train.main, sys.argv[2:]))
"""


def _cli(out_dir: Path, kill_after_epoch: int | None = None, **kw) -> subprocess.CompletedProcess:
    """The training CLI as the workflow calls it (the settings as one JSON argument); with
    ``kill_after_epoch`` SIGKILLed after that epoch's checkpoint."""
    cmd = [sys.executable, "-m", "signgeom.training.train"]
    if kill_after_epoch is not None:
        cmd = [sys.executable, "-c", KILLED_AFTER_EPOCH, str(kill_after_epoch)]
    cmd += ["--settings", _settings(**kw).to_json()]
    cmd += ["--batches-dir", str(DATA), "--out-dir", str(out_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_kill_and_resume_reproduces_uninterrupted_run(tmp_path):
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    _train(ref_dir)

    killed = _cli(run_dir, kill_after_epoch=1)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (run_dir / "checkpoint.pt").exists() and not (run_dir / "status.json").exists()
    assert pd.read_csv(run_dir / "metrics.csv")["epoch"].tolist() == [0, 1]
    with open(run_dir / "metrics.csv", "a") as fh:  # a torn row written during the kill
        fh.write("2,0.123,0.")

    _train(run_dir)
    ref = pd.read_csv(ref_dir / "metrics.csv")
    got = pd.read_csv(run_dir / "metrics.csv")
    assert ref["epoch"].tolist() == [0, 1, 2, 3]
    cols = [c for c in ref.columns if c != "epoch_seconds"]
    pd.testing.assert_frame_equal(got[cols], ref[cols], check_exact=True)
    for epoch in range(4):  # parameters bitwise equal along the trajectory
        a = torch.load(ref_dir / f"snapshots/epoch_{epoch:04d}.pt", weights_only=True)
        b = torch.load(run_dir / f"snapshots/epoch_{epoch:04d}.pt", weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a), epoch
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "completed" and status["epochs_completed"] == 3
    assert status["final_train_loss"] == ref["train_loss"].iloc[-1]
    assert status["snapshot_epochs"] == [0, 1, 2, 3]


def test_forced_divergence_finishes_cleanly(tmp_path):
    res = _cli(tmp_path, lr=1e8, epochs=4, train_limit=100, test_limit=50)
    assert res.returncode == 0, res.stderr
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "diverged" and status["diverged_epoch"] == 1
    assert status["final_train_loss"] is None and status["epochs_completed"] == 0
    m = pd.read_csv(tmp_path / "metrics.csv")
    assert m["diverged"].tolist() == [False, True]
    assert not math.isfinite(m["train_loss"].iloc[-1])
    assert status["snapshot_epochs"] == [0]  # non-finite parameters are never snapshotted


def _snapshot_files(run_dir: Path) -> list[int]:
    return sorted(int(p.stem.split("_")[1]) for p in (run_dir / "snapshots").glob("epoch_*.pt"))


def test_snapshots_are_saved_at_exactly_the_scheduled_epochs(tmp_path):
    small = dict(train_limit=50, test_limit=20)
    run = {**small, "epochs": 5}
    schedule = {"dense_until": 1, "every": 1, "log_points": 2}  # 1 * 5^(1/2) = 2.24, then 5
    dense_log = _train(tmp_path / "log", **run, snapshot_schedule=schedule)
    assert dense_log["snapshot_epochs"] == _snapshot_files(tmp_path / "log") == [0, 1, 2, 5]
    assert dense_log["snapshot_schedule"] == schedule
    strided = _train(tmp_path / "s", **run, snapshot_stride=2)
    assert strided["snapshot_epochs"] == _snapshot_files(tmp_path / "s") == [0, 2, 4, 5]
    for epoch in (0, 2, 5):  # the schedule changes what is saved, not the trajectory
        a = torch.load(tmp_path / f"log/snapshots/epoch_{epoch:04d}.pt", weights_only=True)
        b = torch.load(tmp_path / f"s/snapshots/epoch_{epoch:04d}.pt", weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a), epoch
    listed = _cli(tmp_path / "list", epochs=4, snapshot_schedule=[4, 2], **small)
    assert listed.returncode == 0, listed.stderr
    status = json.loads((tmp_path / "list" / "status.json").read_text())
    assert status["snapshot_epochs"] == _snapshot_files(tmp_path / "list") == [2, 4]


def test_epoch_seed_depends_only_on_seed_and_epoch():
    assert epoch_seed(0, 5) == epoch_seed(0, 5)
    assert len({epoch_seed(s, e) for s in range(3) for e in range(3)}) == 9


def test_train_epoch_weighted_mean_and_nan_stop():
    torch.manual_seed(0)
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    net = nn.Linear(4, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)  # lr 0: loss = full-data mean loss
    loss = train_epoch(net, opt, x, y, batch_size=4, shuffle_seed=1)  # batches 4, 4, 2
    assert loss == pytest.approx(nn.functional.cross_entropy(net(x), y).item(), rel=1e-6)
    with torch.no_grad():
        net.weight[0, 0] = float("nan")
    steps = []
    opt.step = lambda *a, **k: steps.append(1)  # type: ignore[method-assign]
    assert math.isnan(train_epoch(net, opt, x, y, batch_size=4, shuffle_seed=1))
    assert steps == []  # stopped at the first non-finite minibatch loss


def test_resume_restores_rng_on_cpu_whatever_the_training_device(tmp_path, monkeypatch):
    """A checkpoint is read onto the CPU: loading it onto the training device put the RNG
    states on the GPU, where torch.set_rng_state refuses them (every CUDA resume crashed).
    Simulated without a GPU: any map_location but "cpu" loads onto the "meta" device."""
    import signgeom.training.checkpoint as ckpt_mod

    ref_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    _train(ref_dir, epochs=2)
    killed = _cli(run_dir, kill_after_epoch=1, epochs=2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    real_load = torch.load
    seen = []

    def device_load(path, map_location=None, **k):
        seen.append(map_location)
        return real_load(path, map_location="cpu" if map_location == "cpu" else "meta", **k)

    monkeypatch.setattr(ckpt_mod.torch, "load", device_load)
    _train(run_dir, epochs=2)
    assert seen == ["cpu"]
    ref = pd.read_csv(ref_dir / "metrics.csv").drop(columns="epoch_seconds")
    got = pd.read_csv(run_dir / "metrics.csv").drop(columns="epoch_seconds")
    pd.testing.assert_frame_equal(got, ref, check_exact=True)


@pytest.mark.parametrize("precision", ["fp32", "tf32", "bf16"])
def test_each_precision_mode_trains_with_finite_metrics(tmp_path, precision):
    kw = {"epochs": 1, "train_limit": 100, "test_limit": 50}
    status = _train(tmp_path, **kw, precision=precision)
    assert status["status"] == "completed" and status["precision"] == precision
    m = pd.read_csv(tmp_path / "metrics.csv")
    assert m[["train_loss", "train_acc", "test_acc", "train_loss_eval"]].notna().all().all()
    assert all(math.isfinite(v) for v in m["train_loss"])


def test_tf32_on_cpu_is_bitwise_fp32_and_bf16_differs(tmp_path):
    """TF32 only changes CUDA kernels: on the CPU it must give the fp32 trajectory exactly;
    bf16 autocast really computes in bfloat16 (the loss moves)."""
    kw = {"epochs": 1, "train_limit": 100, "test_limit": 50}
    losses = {}
    for precision in ("fp32", "tf32", "bf16"):
        status = _train(tmp_path / precision, **kw, precision=precision)
        losses[precision] = status["final_train_loss"]
    assert losses["tf32"] == losses["fp32"]
    assert losses["bf16"] != losses["fp32"]
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.05)


def test_train_evaluation_cadence_and_subset(tmp_path):
    kw = {"epochs": 3, "train_limit": 100, "test_limit": 50}
    _train(tmp_path, **kw, train_eval_every=2, train_eval_subset=40)
    m = pd.read_csv(tmp_path / "metrics.csv").set_index("epoch")
    evaluated = m["train_acc"].notna()
    assert evaluated.tolist() == [True, False, True, True]  # epoch 0, every 2nd, the last
    assert m["test_acc"].notna().all()
    # accuracy on 40 images is a multiple of 1/40
    assert all(abs(a * 40 - round(a * 40)) < 1e-9 for a in m["train_acc"].dropna())


def test_keras_augmentation_changes_training_and_is_reproducible(tmp_path):
    kw = {"epochs": 1, "train_limit": 100, "test_limit": 50}
    runs = [
        _train(tmp_path / name, **kw, augmentation=aug)
        for name, aug in (("a", "keras"), ("b", "keras"), ("c", "none"))
    ]
    assert runs[0]["final_train_loss"] == runs[1]["final_train_loss"]
    assert runs[0]["final_train_loss"] != runs[2]["final_train_loss"]
    assert runs[0]["augmentation"] == "keras"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_kill_and_resume_is_bitwise(tmp_path):
    """On a GPU (strict fp32, deterministic kernels): kill after epoch 1, resume, and get the
    uninterrupted run's metrics and snapshots exactly."""
    kw = dict(device="cuda", epochs=3, train_limit=500, test_limit=200)
    ref = _cli(tmp_path / "ref", **kw)
    assert ref.returncode == 0, ref.stderr
    killed = _cli(tmp_path / "run", kill_after_epoch=1, **kw)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = _cli(tmp_path / "run", **kw)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stderr
    a = pd.read_csv(tmp_path / "ref/metrics.csv").drop(columns="epoch_seconds")
    b = pd.read_csv(tmp_path / "run/metrics.csv").drop(columns="epoch_seconds")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for epoch in range(4):
        sa = torch.load(tmp_path / f"ref/snapshots/epoch_{epoch:04d}.pt", weights_only=True)
        sb = torch.load(tmp_path / f"run/snapshots/epoch_{epoch:04d}.pt", weights_only=True)
        assert all(torch.equal(sa[k], sb[k]) for k in sa), epoch
