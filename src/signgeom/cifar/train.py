"""Train one (model, optimizer, lr, seed) CIFAR-10 run with resumable checkpoints.

Outputs in ``out_dir``:

- ``metrics.csv``: one row per epoch; epoch 0 describes the initial parameters.
  ``train_loss`` (epoch >= 1) is the mean cross-entropy of that epoch's minibatches
  (train mode, i.e. with dropout / batch statistics, weighted by minibatch size), as in
  Keras. For epoch 0 it is the same quantity for the initial parameters: a train-mode
  forward pass over the training set in a fixed order, without updates, with the RNG
  forked and batch-norm buffers restored, so training itself is unaffected.
  ``train_loss_eval``, ``train_acc`` and ``test_acc`` use eval mode, no grad.
- ``snapshots/epoch_XXXX.pt``: float32 state_dict at epoch 0, every ``snapshot_stride``
  epochs and at epoch ``epochs`` (used by the smoothness estimator; no retraining).
- ``checkpoint.pt``: model, optimizer, finished epochs, metrics, RNG states; written
  atomically after every epoch. A rerun resumes from it and rewrites ``metrics.csv``; an
  unreadable one is set aside (``checkpoint.pt.corrupt-<time>``) and the run starts afresh.
- ``status.json``: written last (Snakemake output marker).

The outputs describe exactly epochs ``0..epochs`` at ``snapshot_stride``: a run resumed with
more epochs trains on; one whose checkpoint holds more epochs reports only the first
``epochs`` (nothing is deleted); if a snapshot due at the current stride is missing (the stride
was lowered), the checkpoint is set aside and the run retrains from epoch 0 (deterministic).
``status.json`` lists the snapshot epochs the smoothness estimator uses.

Minibatch order of epoch ``e`` is ``randperm`` from a generator seeded by ``(seed, e)``,
so it never depends on history. Divergence stops the run: a non-finite loss or parameters,
or a finite epoch loss above ``divergence_factor`` times the epoch-0 loss (a blow-up, e.g.
signSGD at step size 10 reaching losses of 1e16). The run still finishes with status
``"diverged"`` and exit code 0.

Test-only hook: if the environment variable ``SIGNGEOM_TEST_KILL_AFTER_EPOCH=k`` is set,
the process calls ``os._exit(137)`` right after the checkpoint of epoch ``k`` is written
(simulates a SIGKILL at an epoch boundary; used by ``tests/test_cifar_train.py``).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from signgeom.cifar.augment import AUGMENTERS, build_augmenter
from signgeom.cifar.checkpoint import (
    atomic_torch_save,
    atomic_write_csv,
    atomic_write_json,
    load_checkpoint,
    set_aside,
)
from signgeom.cifar.device import DEVICE_CHOICES, PRECISIONS, autocast, setup_device
from signgeom.cifar.progress import ProgressMeter, format_seconds
from signgeom.cifar.runid import run_id
from signgeom.cli import run_cli

log = logging.getLogger(__name__)

METRIC_COLUMNS = [
    "epoch",
    "train_loss",
    "train_acc",
    "test_acc",
    "epoch_seconds",
    "diverged",
    "train_loss_eval",
]
KILL_ENV = "SIGNGEOM_TEST_KILL_AFTER_EPOCH"
EVAL_BATCH_SIZE = 1000


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's trajectory (checked on resume). Its hash names the
    run directory in the workflow (``signgeom.cifar.runid``): a new field here needs its
    config key in ``runid.run_fields``."""

    model: str
    optimizer: str
    lr: float
    seed: int
    batch_size: int
    momentum: float
    train_limit: int | None
    test_limit: int | None
    divergence_factor: float
    augmentation: str = "none"
    precision: str = "fp32"
    deterministic: bool = True
    channels_last: bool = False
    compile: bool = False


def epoch_seed(seed: int, epoch: int) -> int:
    """Shuffle seed for ``epoch``: a hash of ``(seed, epoch)`` only."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)


def snapshot_path(out_dir: str | Path, epoch: int) -> Path:
    return Path(out_dir) / "snapshots" / f"epoch_{epoch:04d}.pt"


def is_diverged(train_loss: float, initial_loss: float, factor: float) -> bool:
    """Non-finite, or above ``factor`` times the epoch-0 loss (a finite blow-up)."""
    return not math.isfinite(train_loss) or train_loss > factor * initial_loss


def snapshot_due(epoch: int, epochs: int, stride: int) -> bool:
    """Snapshots are kept at epoch 0, every ``stride``-th epoch and the last epoch."""
    return epoch % stride == 0 or epoch == epochs


def reported_metrics(metrics: list[dict[str, Any]], epochs: int) -> list[dict[str, Any]]:
    """The rows of epochs ``0..epochs`` (a checkpoint may hold more than configured now)."""
    return [m for m in metrics if m["epoch"] <= epochs]


def missing_snapshots(out_dir: Path, metrics: list[dict[str, Any]], epochs: int, stride: int):
    """Finite reported epochs whose snapshot is due at ``stride`` but absent."""
    return [
        m["epoch"]
        for m in reported_metrics(metrics, epochs)
        if not m["diverged"]
        and snapshot_due(m["epoch"], epochs, stride)
        and not snapshot_path(out_dir, m["epoch"]).exists()
    ]


def params_finite(net: nn.Module) -> bool:
    """True iff every parameter entry is finite (one device sync)."""
    flags = [torch.isfinite(p).all() for p in net.parameters()]
    return bool(torch.stack(flags).all().item())


def train_epoch(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    shuffle_seed: int,
    augmentation: str = "none",
    precision: str = "fp32",
) -> float:
    """One pass of minibatch steps; returns the size-weighted mean minibatch loss.

    The minibatch order and the augmentation draws come from one CPU generator seeded with
    ``shuffle_seed``. On CPU the loss is checked every step (free, no device to sync) and the
    epoch stops at the first non-finite loss; on CUDA it is accumulated on the device and
    checked once, so the step loop never waits for the device.
    """
    net.train()
    n = x.shape[0]
    gen = torch.Generator().manual_seed(shuffle_seed)
    perm = torch.randperm(n, generator=gen).to(x.device)
    augment = build_augmenter(augmentation)(n, gen, x.device)
    check_each_step = x.device.type == "cpu"
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    seen = 0
    for start in range(0, n, batch_size):
        idx = perm[start : start + batch_size]
        xb = augment(x.index_select(0, idx), idx)
        with autocast(x.device, precision):
            loss = F.cross_entropy(net(xb).float(), y.index_select(0, idx))
        loss_sum += loss.detach() * idx.numel()
        seen += idx.numel()
        if check_each_step and not math.isfinite(loss.item()):
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return loss_sum.item() / seen


@torch.no_grad()
def evaluate(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = EVAL_BATCH_SIZE,
    precision: str = "fp32",
) -> tuple[float, float]:
    """Eval-mode mean cross-entropy and accuracy over ``(x, y)``."""
    was_training = net.training
    net.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        with autocast(x.device, precision):
            out = net(x[start : start + batch_size]).float()
        yb = y[start : start + batch_size]
        loss_sum += F.cross_entropy(out, yb, reduction="sum")
        correct += (out.argmax(1) == yb).sum()
    net.train(was_training)
    n = x.shape[0]
    return loss_sum.item() / n, correct.item() / n


@torch.no_grad()
def initial_train_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """Train-mode mean loss at the current parameters without side effects.

    The global RNG is forked (dropout draws do not shift training's) and all buffers
    (batch-norm running statistics) are restored afterwards.
    """
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    devices = [x.device.index or 0] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        net.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
        for start in range(0, x.shape[0], batch_size):
            out = net(x[start : start + batch_size])
            loss_sum += F.cross_entropy(out, y[start : start + batch_size], reduction="sum")
    for k, v in net.named_buffers():
        v.copy_(buffers[k])
    return loss_sum.item() / x.shape[0]


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    """Restore RNG states; ``torch.(cuda.)set_rng_state`` take CPU byte tensors only."""
    torch.set_rng_state(state["cpu"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([t.cpu() for t in state["cuda"]])


def _float32_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {
        k: (v.detach().float() if v.is_floating_point() else v.detach()).cpu().clone()
        for k, v in net.state_dict().items()
    }


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _validate(cfg: RunConfig, epochs: int, snapshot_stride: int, expected: str | None) -> None:
    """Reject bad arguments before anything is created on disk."""
    from signgeom.cifar.models import MODELS
    from signgeom.cifar.optimizers import OPTIMIZERS

    problems = []
    if cfg.model not in MODELS:
        problems.append(f"model {cfg.model!r} is not one of {sorted(MODELS)}")
    if cfg.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer {cfg.optimizer!r} is not one of {sorted(OPTIMIZERS)}")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        problems.append(f"lr must be finite and > 0, got {cfg.lr}")
    if not 0 <= cfg.momentum < 1:
        problems.append(f"momentum must be in [0, 1), got {cfg.momentum}")
    if not cfg.divergence_factor > 1:
        problems.append(f"divergence_factor must be > 1, got {cfg.divergence_factor}")
    if epochs < 0 or snapshot_stride < 1 or cfg.batch_size < 1:
        problems.append(
            f"need epochs >= 0, snapshot_stride >= 1, batch_size >= 1 "
            f"(got {epochs}, {snapshot_stride}, {cfg.batch_size})"
        )
    for name in ("train_limit", "test_limit"):
        if getattr(cfg, name) is not None and getattr(cfg, name) < 1:
            problems.append(f"{name} must be None or >= 1, got {getattr(cfg, name)}")
    if problems:
        raise ValueError("; ".join(problems))
    if expected is not None and expected != run_id(asdict(cfg)):
        raise ValueError(
            f"run id {expected!r} (the run directory's name) is not the hash "
            f"{run_id(asdict(cfg))!r} of this run's settings {asdict(cfg)}: the workflow and "
            "signgeom.cifar.runid.run_fields disagree with the arguments passed to training"
        )


def train_run(
    *,
    model: str,
    optimizer: str,
    lr: float,
    seed: int,
    epochs: int,
    batch_size: int = 1000,
    momentum: float = 0.9,
    batches_dir: str | Path,
    train_limit: int | None = None,
    test_limit: int | None = None,
    device: str = "auto",
    out_dir: str | Path,
    snapshot_stride: int = 1,
    augmentation: str = "none",
    precision: str = "fp32",
    deterministic: bool = True,
    channels_last: bool = False,
    compile: bool = False,
    train_eval_every: int = 1,
    train_eval_subset: int | None = None,
    divergence_factor: float = 10.0,
    expected_run_id: str | None = None,
) -> dict[str, Any]:
    """Train (or resume) one run; returns the dict written to ``status.json``.

    The eval-mode pass over the training set (``train_loss_eval``, ``train_acc``) runs at epoch
    0, every ``train_eval_every`` epochs and at the last epoch, on the first
    ``train_eval_subset`` training images (None: all); other rows hold NaN there. Test
    accuracy is computed every epoch.

    ``expected_run_id`` (from the workflow's run directory name) must equal the hash of this
    run's ``RunConfig``: a mismatch means the workflow and this CLI disagree on the settings.
    """
    from signgeom.cifar.data import load_cifar10
    from signgeom.cifar.models import build_model
    from signgeom.cifar.optimizers import build_optimizer

    if train_eval_every < 1:
        raise ValueError(f"train_eval_every must be >= 1, got {train_eval_every}")
    if augmentation not in AUGMENTERS:
        raise ValueError(f"unknown augmentation {augmentation!r}; known: {sorted(AUGMENTERS)}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    cfg = RunConfig(
        model,
        optimizer,
        float(lr),
        int(seed),
        int(batch_size),
        float(momentum),
        train_limit,
        test_limit,
        float(divergence_factor),
        augmentation,
        precision,
        bool(deterministic),
        bool(channels_last),
        bool(compile),
    )
    _validate(cfg, epochs, snapshot_stride, expected_run_id)
    dev = setup_device(device, precision, deterministic)
    t_load = time.perf_counter()
    data = load_cifar10(batches_dir, device=dev, train_limit=train_limit, test_limit=test_limit)
    log.info(
        "data: %d train / %d test images on %s (%.1fs)",
        data.train_x.shape[0],
        data.test_x.shape[0],
        dev,
        time.perf_counter() - t_load,
    )
    out = Path(out_dir)  # created only once the arguments and the data are known to be good
    out.mkdir(parents=True, exist_ok=True)

    if channels_last:
        data.train_x = data.train_x.contiguous(memory_format=torch.channels_last)
        data.test_x = data.test_x.contiguous(memory_format=torch.channels_last)
    eval_x, eval_y = data.train_x[:train_eval_subset], data.train_y[:train_eval_subset]

    torch.manual_seed(cfg.seed)
    net = build_model(model).to(dev)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    fwd: nn.Module = torch.compile(net) if compile else net  # type: ignore[assignment]
    opt = build_optimizer(optimizer, net.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    ckpt_path = out / "checkpoint.pt"
    metrics: list[dict[str, Any]] = []
    ckpt = load_checkpoint(ckpt_path)
    if ckpt is not None and (
        missing := missing_snapshots(out, ckpt["metrics"], epochs, snapshot_stride)
    ):
        aside = set_aside(ckpt_path, "restride")
        log.warning(
            "snapshots of epochs %s (stride %d) are missing; %s set aside as %s, retraining "
            "from epoch 0",
            missing,
            snapshot_stride,
            ckpt_path,
            aside,
        )
        ckpt = None
    if ckpt is not None:
        if ckpt["config"] != asdict(cfg):
            raise ValueError(
                f"{ckpt_path} was written by a run with another config ({ckpt['config']}; "
                f"now {asdict(cfg)}). It is kept: move or delete {out} to train this run afresh."
            )
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        _set_rng_state(ckpt["rng"])
        metrics = list(ckpt["metrics"])
        log.info("resumed from %s at epoch %d", ckpt_path, ckpt["epoch"])
        if ckpt["epoch"] > epochs:
            log.info(
                "the checkpoint holds %d epochs; reporting the first %d", ckpt["epoch"], epochs
            )

    def save_checkpoint(epoch: int, done: bool) -> None:
        atomic_torch_save(
            {
                "config": asdict(cfg),
                "epoch": epoch,
                "finished": done,
                "model": net.state_dict(),
                "optimizer": opt.state_dict(),
                "metrics": metrics,
                "rng": _rng_state(),
            },
            ckpt_path,
        )
        atomic_write_csv(metrics, METRIC_COLUMNS, out / "metrics.csv")

    def maybe_kill(epoch: int) -> None:
        if os.environ.get(KILL_ENV) == str(epoch):
            os._exit(137)  # test-only: simulate SIGKILL right after a checkpoint

    n_train = data.train_x.shape[0]
    if not metrics:  # epoch 0: the initial point
        t0 = time.perf_counter()
        loss0 = initial_train_loss(net, data.train_x, data.train_y, cfg.batch_size)
        loss_eval, train_acc = evaluate(net, eval_x, eval_y)
        _, test_acc = evaluate(net, data.test_x, data.test_y)
        metrics.append(
            {
                "epoch": 0,
                "train_loss": loss0,
                "train_acc": train_acc,
                "test_acc": test_acc,
                "epoch_seconds": time.perf_counter() - t0,
                "diverged": False,
                "train_loss_eval": loss_eval,
            }
        )
        atomic_torch_save(_float32_state(net), snapshot_path(out, 0))
        save_checkpoint(0, False)
        log.info(
            "epoch 0 | train_loss %.4f | train_acc %.4f | test_acc %.4f", loss0, train_acc, test_acc
        )
        maybe_kill(0)
    else:
        atomic_write_csv(reported_metrics(metrics, epochs), METRIC_COLUMNS, out / "metrics.csv")

    start_epoch = metrics[-1]["epoch"] + 1
    diverged = bool(reported_metrics(metrics, epochs)[-1]["diverged"])
    loss0 = metrics[0]["train_loss"]
    meter = ProgressMeter(total=epochs, done=start_epoch - 1)
    for epoch in range(start_epoch, epochs + 1):
        if diverged:  # never train on from non-finite parameters
            break
        t0 = time.perf_counter()
        train_loss = train_epoch(
            fwd,
            opt,
            data.train_x,
            data.train_y,
            cfg.batch_size,
            epoch_seed(cfg.seed, epoch),
            augmentation=augmentation,
            precision=precision,
        )
        diverged = is_diverged(train_loss, loss0, cfg.divergence_factor) or not params_finite(net)
        loss_eval = train_acc = test_acc = float("nan")
        if not diverged:
            if epoch % train_eval_every == 0 or epoch == epochs:
                loss_eval, train_acc = evaluate(fwd, eval_x, eval_y, precision=precision)
            _, test_acc = evaluate(fwd, data.test_x, data.test_y, precision=precision)
        seconds = time.perf_counter() - t0
        metrics.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_acc": train_acc,
                "test_acc": test_acc,
                "epoch_seconds": seconds,
                "diverged": diverged,
                "train_loss_eval": loss_eval,
            }
        )
        if not diverged and snapshot_due(epoch, epochs, snapshot_stride):
            atomic_torch_save(_float32_state(net), snapshot_path(out, epoch))
        save_checkpoint(epoch, diverged or epoch == epochs)
        meter.update(epoch)
        log.info(
            "epoch %d | train_loss %.4f | train_acc %.4f | test_acc %.4f | %.0f img/s | %s%s",
            epoch,
            train_loss,
            train_acc,
            test_acc,
            n_train / seconds,
            meter.line(),
            " | DIVERGED" if diverged else "",
        )
        maybe_kill(epoch)

    metrics = reported_metrics(metrics, epochs)
    last = metrics[-1]
    finite_rows = [m for m in metrics if not m["diverged"]]
    status = {
        "status": "diverged" if diverged else "completed",
        "epochs_completed": finite_rows[-1]["epoch"],
        "epochs_requested": epochs,
        "diverged_epoch": last["epoch"] if diverged else None,
        "final_train_loss": _finite_or_none(last["train_loss"]),
        "last_finite_train_loss": finite_rows[-1]["train_loss"],
        "final_test_acc": _finite_or_none(finite_rows[-1]["test_acc"]),
        "snapshot_epochs": [
            m["epoch"] for m in finite_rows if snapshot_due(m["epoch"], epochs, snapshot_stride)
        ],
        "total_epoch_seconds": sum(m["epoch_seconds"] for m in metrics),
        "device": str(dev),
        "torch_version": torch.__version__,
        "epochs": epochs,
        "snapshot_stride": snapshot_stride,
        "train_eval_every": train_eval_every,
        "train_eval_subset": train_eval_subset,
        "run_id": run_id(asdict(cfg)),
        **asdict(cfg),
    }
    atomic_write_json(status, out / "status.json")
    log.info(
        "finished: %s after %d epochs (%s of epoch time)",
        status["status"],
        status["epochs_completed"],
        format_seconds(status["total_epoch_seconds"]),
    )
    return status


def _optional_int(s: str) -> int | None:
    return None if s.lower() in ("none", "0", "") else int(s)


def _bool(s: str) -> bool:
    if s.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")
    return s.lower() == "true"


def build_parser() -> argparse.ArgumentParser:
    """The training CLI: every option described; models and optimizers listed in ``--help``."""
    from signgeom.cifar.models import MODELS
    from signgeom.cifar.optimizers import OPTIMIZERS

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, choices=sorted(MODELS), help="architecture")
    p.add_argument("--optimizer", required=True, choices=sorted(OPTIMIZERS), help="update rule")
    p.add_argument("--lr", type=float, required=True, help="step size (> 0)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    p.add_argument("--epochs", type=int, required=True, help="epochs to train (resumes)")
    p.add_argument("--batch-size", type=int, default=1000, help="minibatch size")
    p.add_argument("--momentum", type=float, default=0.9, help="heavy-ball momentum / beta1")
    p.add_argument("--data-dir", required=True, help="directory with the data_batch_* files")
    p.add_argument("--train-limit", type=_optional_int, default=None, help="first N; None/0 = all")
    p.add_argument("--test-limit", type=_optional_int, default=None, help="first N; None/0 = all")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="where to train")
    p.add_argument("--snapshot-stride", type=int, default=1, help="keep parameters every N epochs")
    p.add_argument(
        "--divergence-factor",
        type=float,
        default=10.0,
        help="diverged when the epoch loss exceeds this times the epoch-0 loss",
    )
    p.add_argument(
        "--run-id", default=None, help="expected hash of the run's settings (from the workflow)"
    )
    p.add_argument(
        "--augmentation", choices=sorted(AUGMENTERS), required=True, help="training augmentation"
    )
    p.add_argument("--precision", choices=PRECISIONS, required=True, help="training precision")
    p.add_argument("--deterministic", type=_bool, required=True, help="true|false")
    p.add_argument("--channels-last", type=_bool, required=True, help="NHWC layout: true|false")
    p.add_argument("--compile", type=_bool, required=True, help="torch.compile: true|false")
    p.add_argument(
        "--train-eval-every", type=int, required=True, help="train-set evaluation every N epochs"
    )
    p.add_argument(
        "--train-eval-subset",
        type=_optional_int,
        required=True,
        help="first N training images for that evaluation; none = all",
    )
    p.add_argument("--out-dir", required=True, help="run directory (created after validation)")
    return p


def main(argv: list[str] | None = None) -> None:
    a = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    train_run(
        model=a.model,
        optimizer=a.optimizer,
        lr=a.lr,
        seed=a.seed,
        epochs=a.epochs,
        batch_size=a.batch_size,
        momentum=a.momentum,
        batches_dir=a.data_dir,
        train_limit=a.train_limit,
        test_limit=a.test_limit,
        device=a.device,
        out_dir=a.out_dir,
        snapshot_stride=a.snapshot_stride,
        augmentation=a.augmentation,
        precision=a.precision,
        deterministic=a.deterministic,
        channels_last=a.channels_last,
        compile=a.compile,
        train_eval_every=a.train_eval_every,
        train_eval_subset=a.train_eval_subset,
        divergence_factor=a.divergence_factor,
        expected_run_id=a.run_id,
    )


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
