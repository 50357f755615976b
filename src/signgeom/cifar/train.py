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
  epochs and at the last finite epoch (used by the smoothness estimator; no retraining).
- ``checkpoint.pt``: model, optimizer, finished epochs, metrics, RNG states; written
  atomically after every epoch. A rerun resumes from it and rewrites ``metrics.csv``.
- ``status.json``: written last (Snakemake output marker).

Minibatch order of epoch ``e`` is ``randperm`` from a generator seeded by ``(seed, e)``,
so it never depends on history. Divergence (non-finite loss or parameters) stops the
run; the run still finishes with status ``"diverged"`` and exit code 0.

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
    torch_load,
)
from signgeom.cifar.device import DEVICE_CHOICES, PRECISIONS, autocast, setup_device
from signgeom.cifar.progress import ProgressMeter, format_seconds
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
    """Everything that determines a run's trajectory (checked on resume)."""

    model: str
    optimizer: str
    lr: float
    seed: int
    batch_size: int
    momentum: float
    train_limit: int | None
    test_limit: int | None
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


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read ``checkpoint.pt`` onto the CPU, whatever device wrote it.

    ``load_state_dict`` of the model and the optimizer copies tensors to the parameters'
    device; RNG states must stay CPU byte tensors (a CUDA ``map_location`` broke resume).
    """
    return torch_load(path, map_location="cpu")


def _float32_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {
        k: (v.detach().float() if v.is_floating_point() else v.detach()).cpu().clone()
        for k, v in net.state_dict().items()
    }


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


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
) -> dict[str, Any]:
    """Train (or resume) one run; returns the dict written to ``status.json``.

    The eval-mode pass over the training set (``train_loss_eval``, ``train_acc``) runs at epoch
    0, every ``train_eval_every`` epochs and at the last epoch, on the first
    ``train_eval_subset`` training images (None: all); other rows hold NaN there. Test
    accuracy is computed every epoch.
    """
    from signgeom.cifar.data import load_cifar10
    from signgeom.cifar.models import build_model
    from signgeom.cifar.optimizers import build_optimizer

    if snapshot_stride < 1 or epochs < 0 or batch_size < 1 or train_eval_every < 1:
        raise ValueError(
            "need snapshot_stride >= 1, epochs >= 0, batch_size >= 1, train_eval_every >= 1"
        )
    if augmentation not in AUGMENTERS:
        raise ValueError(f"unknown augmentation {augmentation!r}; known: {sorted(AUGMENTERS)}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = RunConfig(
        model,
        optimizer,
        float(lr),
        int(seed),
        int(batch_size),
        float(momentum),
        train_limit,
        test_limit,
        augmentation,
        precision,
        bool(deterministic),
        bool(channels_last),
        bool(compile),
    )
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
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
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
        atomic_write_csv(metrics, METRIC_COLUMNS, out / "metrics.csv")

    start_epoch = metrics[-1]["epoch"] + 1
    diverged = bool(metrics[-1]["diverged"])
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
        diverged = not (math.isfinite(train_loss) and params_finite(net))
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
        if not diverged and (epoch % snapshot_stride == 0 or epoch == epochs):
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
        "snapshot_epochs": sorted(
            int(p.stem.split("_")[1]) for p in (out / "snapshots").glob("epoch_*.pt")
        ),
        "total_epoch_seconds": sum(m["epoch_seconds"] for m in metrics),
        "device": str(dev),
        "torch_version": torch.__version__,
        "epochs": epochs,
        "snapshot_stride": snapshot_stride,
        "train_eval_every": train_eval_every,
        "train_eval_subset": train_eval_subset,
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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--optimizer", required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--data-dir", required=True, help="directory with the data_batch_* files")
    p.add_argument("--train-limit", type=_optional_int, default=None, help="None/0 = all")
    p.add_argument("--test-limit", type=_optional_int, default=None, help="None/0 = all")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    p.add_argument("--snapshot-stride", type=int, default=1)
    p.add_argument("--augmentation", choices=sorted(AUGMENTERS), required=True)
    p.add_argument("--precision", choices=PRECISIONS, required=True)
    p.add_argument("--deterministic", type=_bool, required=True, help="true|false")
    p.add_argument("--channels-last", type=_bool, required=True, help="true|false")
    p.add_argument("--compile", type=_bool, required=True, help="true|false")
    p.add_argument("--train-eval-every", type=int, required=True)
    p.add_argument("--train-eval-subset", type=_optional_int, required=True, help="none = all")
    p.add_argument("--out-dir", required=True)
    a = p.parse_args(argv)
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
    )


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
