"""Training loop: bitwise kill-and-resume, forced divergence, epoch-seeded shuffling."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from signgeom.cifar.train import KILL_ENV, epoch_seed, train_epoch, train_run

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


def _cli(
    out_dir: Path, env_extra: dict[str, str] | None = None, **kw
) -> subprocess.CompletedProcess:
    args = {**TINY, **kw}
    cmd = [
        sys.executable,
        "-m",
        "signgeom.cifar.train",
        "--device",
        "cpu",
        "--data-dir",
        str(DATA),
        "--out-dir",
        str(out_dir),
    ]
    for k, v in args.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads()), **(env_extra or {})}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_kill_and_resume_reproduces_uninterrupted_run(tmp_path):
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    train_run(**TINY, batches_dir=DATA, device="cpu", out_dir=ref_dir)

    killed = _cli(run_dir, {KILL_ENV: "1"})
    assert killed.returncode == 137, killed.stderr
    assert (run_dir / "checkpoint.pt").exists() and not (run_dir / "status.json").exists()
    with open(run_dir / "metrics.csv", "a") as fh:  # a torn row written during the kill
        fh.write("2,0.123,0.")

    train_run(**TINY, batches_dir=DATA, device="cpu", out_dir=run_dir)
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
