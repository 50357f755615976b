"""Training faults: finite blow-ups, changed epochs/stride on an existing run, unreadable
checkpoints, failed writes, bad arguments, and the run identity shared with the workflow."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from settings_helpers import unit_settings
from signgeom import io
from signgeom.cli import run_cli
from signgeom.tasks.cifar.models import MODELS
from signgeom.training.optimizers import OPTIMIZERS
from signgeom.training.run_settings import TrainSettings
from signgeom.training.runid import run_id
from signgeom.training.train import build_parser, main, train_run

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data/cifar10-subset/cifar-10-batches-py"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="bundled CIFAR subset missing")
TINY = dict(
    model="cnn",
    optimizer="sgd",
    lr=0.01,
    seed=1,
    batch_size=25,
    train_limit=50,
    test_limit=20,
    device="cpu",
)
COMPARED = ["epoch", "train_loss", "train_acc", "test_acc", "diverged", "train_loss_eval"]


def _train(out_dir: Path, **kw) -> dict:
    """``train_run`` of ``TINY`` with the settings ``kw`` changed."""
    return train_run(
        unit_settings(TrainSettings, **{**TINY, **kw}), batches_dir=DATA, out_dir=out_dir
    )


def _status(run: Path) -> dict:
    return json.loads((run / "status.json").read_text())


def test_a_finite_blow_up_is_diverged(tmp_path):
    # signSGD at step size 1 reaches a finite training loss of ~1e11 in one epoch.
    status = _train(tmp_path, optimizer="signsgd", lr=1.0, epochs=1)
    m = pd.read_csv(tmp_path / "metrics.csv")
    assert m["train_loss"].iloc[1] > 10 * m["train_loss"].iloc[0]
    assert status["status"] == "diverged" and status["diverged_epoch"] == 1
    assert status["epochs_completed"] == 0 and status["snapshot_epochs"] == [0]
    assert m["diverged"].tolist() == [False, True]


def test_outputs_follow_the_configured_epochs_and_stride(tmp_path, caplog):
    _train(tmp_path, epochs=2)
    full = pd.read_csv(tmp_path / "metrics.csv")

    fewer = _train(tmp_path, epochs=1)  # no training: a prefix is reported
    assert pd.read_csv(tmp_path / "metrics.csv")["epoch"].tolist() == [0, 1]
    assert fewer["epochs_completed"] == fewer["epochs_requested"] == 1
    assert fewer["snapshot_epochs"] == [0, 1]
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["epoch"] == 2  # kept

    strided = _train(tmp_path, epochs=2, snapshot_stride=2)
    assert strided["snapshot_epochs"] == [0, 2] and _status(tmp_path)["epochs_completed"] == 2
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "metrics.csv"), full)

    (tmp_path / "snapshots/epoch_0001.pt").unlink()  # as after training at stride 2
    with caplog.at_level(logging.WARNING):
        denser = _train(tmp_path, epochs=2, snapshot_stride=1)
    assert denser["snapshot_epochs"] == [0, 1, 2] and "retraining from epoch 0" in caplog.text
    assert (tmp_path / "snapshots/epoch_0001.pt").exists()
    assert len(list(tmp_path.glob("checkpoint.pt.restride-*"))) == 1  # set aside, not deleted
    again = pd.read_csv(tmp_path / "metrics.csv")
    pd.testing.assert_frame_equal(again[COMPARED], full[COMPARED], check_exact=True)


def test_an_unreadable_checkpoint_is_set_aside_and_the_run_restarts(tmp_path, caplog):
    ref = _train(tmp_path / "ref", epochs=1)
    run = tmp_path / "run"
    _train(run, epochs=1)
    ckpt = run / "checkpoint.pt"
    truncated = ckpt.read_bytes()[: ckpt.stat().st_size // 2]
    ckpt.write_bytes(truncated)
    with caplog.at_level(logging.WARNING):
        status = _train(run, epochs=1)
    assert f"checkpoint {ckpt} is unreadable" in caplog.text and "afresh" in caplog.text
    (aside,) = run.glob("checkpoint.pt.corrupt-*")
    assert aside.read_bytes() == truncated
    assert status["final_train_loss"] == ref["final_train_loss"]
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1


def test_a_failed_write_names_the_file_and_the_fix(tmp_path, monkeypatch, capsys):
    def full_disk(obj, f, *args, **kwargs):
        f.write(b"PK")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64")

    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"old")
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(io.WriteError, match=f"could not write {target}.*free space"):
        io.atomic_torch_save({}, target)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == [target.name]

    args = ["--model", "cnn", "--optimizer", "sgd", "--lr", "0.01", "--epochs", "1"]
    args += ["--batches-dir", str(DATA), "--train-limit", "20", "--test-limit", "10"]
    args += ["--batch-size", "10", "--device", "cpu", "--out-dir", str(tmp_path / "run")]
    args += ["--augmentation", "none", "--precision", "fp32", "--deterministic", "true"]
    args += ["--channels-last", "false", "--compile", "false"]
    args += ["--train-eval-every", "1", "--train-eval-subset", "none", "--seed", "0"]
    args += ["--momentum", "0.9", "--snapshot-stride", "1", "--snapshot-schedule", "null"]
    args += ["--divergence-factor", "10"]
    assert run_cli(main, args) == 2
    err = capsys.readouterr().err
    assert f"error: could not write {tmp_path / 'run'}" in err and "df -h" in err
    assert "a training run resumes from its last complete checkpoint" in err


def test_a_failed_table_write_says_the_table_is_written_again_not_resumed(tmp_path, monkeypatch):
    """A claims or summary table is rewritten whole by its rerun; only training resumes."""

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "claims.csv"
    monkeypatch.setattr(io.os, "fsync", no_space)
    with pytest.raises(io.WriteError) as caught:
        io.write_table(pd.DataFrame({"claim": ["a"]}), target)
    message = str(caught.value)
    assert f"could not write {target}" in message and "No space left" in message
    assert f"rerun: the job writes {target} again from its inputs" in message
    assert "resumes" not in message and not target.exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"model": "nope"},
        {"optimizer": "nope"},
        {"lr": float("inf")},
        {"lr": -1.0},
        {"precision": "fp16"},
        {"batches_dir": Path("/nonexistent")},
    ],
)
def test_bad_arguments_are_rejected_before_the_run_directory_exists(tmp_path, bad):
    changed = {k: v for k, v in bad.items() if k != "batches_dir"}
    data = bad.get("batches_dir", DATA)
    with pytest.raises(ValueError, match=str(next(iter(bad.values())))[:4]):
        settings = unit_settings(TrainSettings, **{**TINY, **changed, "epochs": 1})
        train_run(settings, batches_dir=data, out_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_help_describes_every_option_and_lists_models_and_optimizers(capsys):
    parser = build_parser()
    assert all(a.help for a in parser._actions)
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = capsys.readouterr().out
    assert all(name in text for name in [*MODELS, *OPTIMIZERS])


def test_the_run_identity_follows_the_config_keys_that_shape_the_trajectory():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    cifar = config["cifar"]

    def settings(**changes) -> TrainSettings:
        changed = {**config, "cifar": {**cifar, **changes}}
        return TrainSettings.from_config(changed, model="cnn", optimizer="sgd", lr=0.01, seed=0)

    plain = settings()
    assert (
        plain.batch_size == cifar["batch_size"] and plain.epochs == cifar["models"]["cnn"]["epochs"]
    )
    assert plain.precision == cifar["training"]["precision"]
    assert plain.snapshot_schedule == cifar["smoothness"]["schedule"]
    assert plain.divergence_factor == 10.0 and isinstance(plain.divergence_factor, float)
    data = {**cifar["data"], "train_limit": 10}
    for changes in [{"batch_size": 7}, {"momentum": 0.5}, {"data": data}]:
        assert settings(**changes).run_id() != plain.run_id(), changes
    models = {"cnn": {**cifar["models"]["cnn"], "epochs": 3}}
    later = settings(models=models, smoothness={**cifar["smoothness"], "stride": 5})
    assert later.epochs == 3 and later.snapshot_stride == 5
    assert later.run_key() == plain.run_key()  # how far a run goes is not its identity
    assert plain.run_key() == f"cnn/sgd/lr0.01_seed0_{run_id(plain.identity())}"
    assert TrainSettings.from_json(plain.to_json()) == plain


def test_a_run_id_that_does_not_match_the_arguments_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is not the hash"):
        settings = unit_settings(TrainSettings, **TINY, epochs=1)
        train_run(
            settings, batches_dir=DATA, out_dir=tmp_path / "run", expected_run_id="0123456789"
        )
    assert not (tmp_path / "run").exists()


def test_estimators_use_the_snapshots_of_the_configured_epochs_and_stride(tmp_path):
    from signgeom.training.rundir import RunDir

    (tmp_path / "snapshots").mkdir()
    for epoch in range(4):  # left by an earlier config: 3 epochs at stride 1
        (tmp_path / f"snapshots/epoch_{epoch:04d}.pt").write_bytes(b"")
    (tmp_path / "status.json").write_text(json.dumps({"snapshot_epochs": [0, 2]}))
    assert RunDir(tmp_path).snapshot_epochs() == [0, 2]


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory) -> Path:
    """A finished 1-epoch run of ``TINY`` (the reference; copy it before changing it)."""
    run = tmp_path_factory.mktemp("one_epoch") / "run"
    _train(run, epochs=1)
    return run


def test_fewer_epochs_report_what_a_fresh_run_reports(tmp_path, one_epoch):
    # train-set evaluation at epochs 0, 3 and the last: epoch 1 has none in the 3-epoch run
    _train(tmp_path, train_eval_every=3, epochs=3)
    fewer = _train(tmp_path, train_eval_every=3, epochs=1)
    got, want = (pd.read_csv(d / "metrics.csv") for d in (tmp_path, one_epoch))
    assert got["train_acc"].notna().all()
    pd.testing.assert_frame_equal(got[COMPARED], want[COMPARED], check_exact=True)
    keys = ["status", "epochs_completed", "final_test_acc", "last_finite_train_loss"]
    assert {k: fewer[k] for k in keys} == {k: _status(one_epoch)[k] for k in keys}
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["epoch"] == 3


@pytest.mark.parametrize("damage", ["random", "truncated", "missing"])
def test_a_damaged_snapshot_is_named_and_remade_by_rerunning_training(tmp_path, one_epoch, damage):
    from signgeom.estimate.estimate_settings import SmoothnessSettings
    from signgeom.estimate.smoothness import estimate_run
    from signgeom.training.checkpoint import SnapshotError

    run = Path(shutil.copytree(one_epoch, tmp_path / "run"))
    snapshot = run / "snapshots/epoch_0001.pt"
    if damage == "missing":
        snapshot.unlink()
    else:
        size = snapshot.stat().st_size
        snapshot.write_bytes(os.urandom(size) if damage == "random" else snapshot.read_bytes()[:99])
    steps = tmp_path / "step_sizes.csv"
    steps.write_text("model,optimizer,lr\ncnn,sgd,0.01\ncnn,signsgd,0.0001\n")
    settings = unit_settings(
        SmoothnessSettings,
        model="cnn", trajectory_optimizer="sgd", gammas=[1.0], n_examples=10, chunk_size=10,
        device="cpu",
    )  # fmt: skip
    with pytest.raises(SnapshotError) as err:
        estimate_run(settings, run_dir=run, data_dir=DATA, step_sizes=steps, out=tmp_path / "o.csv")
    message = str(err.value)
    assert message.startswith(f"snapshot {snapshot} is unreadable")
    assert "weights_only" not in message and "rerun the same snakemake command" in message
    assert f"`snakemake <options> {run / 'status.json'}`" in message
    assert not (run / "status.json").exists() and not snapshot.exists()  # set aside
    assert len(list(run.glob("status.json.corrupt-*"))) == 1

    _train(run, epochs=1)  # what the rerun training job does
    good = torch.load(one_epoch / "snapshots/epoch_0001.pt", weights_only=True)
    remade = torch.load(snapshot, weights_only=True)
    assert all(torch.equal(remade[k], good[k]) for k in good)
    assert _status(run)["snapshot_epochs"] == [0, 1]


# Run in a child process: os.fsync is wrapped so that the child sends itself SIGTERM in the
# middle of its n-th atomic write (the temporary file written, not yet moved onto its name).
SIGTERM_CHILD = """
import os, signal, sys
import signgeom.io as io
from signgeom.training import train
n, real_fsync, calls = int(sys.argv[1]), os.fsync, []

def fsync(fd):
    calls.append(fd)
    real_fsync(fd)
    if len(calls) == n:
        os.kill(os.getpid(), signal.SIGTERM)

io.os.fsync = fsync
raise SystemExit(train.run_cli(train.main, sys.argv[2:]))
"""


def _cli_args(out_dir: Path, epochs: int) -> list[str]:
    """The training CLI's flags for ``TINY`` at ``epochs``."""
    args = ["--model", "cnn", "--optimizer", "sgd", "--lr", "0.01", "--epochs", str(epochs)]
    args += ["--batches-dir", str(DATA), "--train-limit", "50", "--test-limit", "20"]
    args += ["--batch-size", "25", "--device", "cpu", "--out-dir", str(out_dir)]
    args += ["--augmentation", "none", "--precision", "fp32", "--deterministic", "true"]
    args += ["--channels-last", "false", "--compile", "false", "--seed", "1"]
    args += ["--train-eval-every", "1", "--train-eval-subset", "none"]
    args += ["--momentum", "0.9", "--snapshot-stride", "1", "--snapshot-schedule", "null"]
    args += ["--divergence-factor", "10"]
    return args


@pytest.mark.parametrize("write, left", [(1, "snapshot"), (2, "checkpoint"), (3, "metrics")])
def test_sigterm_mid_write_leaves_no_temporary_file_and_resumes(tmp_path, one_epoch, write, left):
    # epoch 0 writes its snapshot, the checkpoint, then metrics.csv
    run = tmp_path / "run"
    child = subprocess.run(
        [sys.executable, "-c", SIGTERM_CHILD, str(write), *_cli_args(run, epochs=1)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 143, child.stderr[-3000:]
    assert "terminated by SIGTERM" in child.stderr
    hidden = [p.relative_to(run) for p in run.rglob(".*")]
    assert hidden == [], f"the {left} write left {hidden}"

    resumed = _train(run, epochs=1)
    assert resumed["final_train_loss"] == _status(one_epoch)["final_train_loss"]
    got, want = (pd.read_csv(d / "metrics.csv") for d in (run, one_epoch))
    pd.testing.assert_frame_equal(got[COMPARED], want[COMPARED], check_exact=True)


def test_stale_temporary_files_are_swept_on_resume(tmp_path, one_epoch):
    run = Path(shutil.copytree(one_epoch, tmp_path / "run"))
    stale = [".checkpoint.k2j3h4.pt", ".metrics.x9y8.csv", ".status.abc.json"]
    stale += ["snapshots/.epoch_0001.q1w2.pt"]
    kept = ["notes.txt", ".keep", "snapshots/epoch_0001.pt"]
    for name in stale + kept[:2]:
        (run / name).write_bytes(b"half")
    _train(run, epochs=1)
    assert [name for name in stale if (run / name).exists()] == []
    assert all((run / name).exists() for name in kept)
