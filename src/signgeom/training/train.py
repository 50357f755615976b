"""Train one (model, optimizer, lr, seed) CIFAR-10 run with resumable checkpoints.

The run's settings are one :class:`signgeom.training.run_settings.TrainSettings` (the workflow
passes them as one JSON argument, ``--settings``; each field also has its own flag).

Outputs in ``out_dir``:

- ``metrics.csv``: one row per epoch; epoch 0 describes the initial parameters.
  ``train_loss`` (epoch >= 1) is the mean cross-entropy of that epoch's minibatches
  (train mode, i.e. with dropout / batch statistics, weighted by minibatch size), as in
  Keras. For epoch 0 it is the same quantity for the initial parameters: a train-mode
  forward pass over the training set in a fixed order, without updates, with the RNG
  forked and batch-norm buffers restored, so training itself is unaffected.
  ``train_loss_eval``, ``train_acc``, ``test_acc`` and ``test_loss`` (the held-out mean
  loss) use eval mode, no grad.
- ``snapshots/epoch_XXXX.pt``: float32 state_dict at the scheduled epochs
  (``signgeom.training.schedule.estimate_epochs`` of ``epochs``, ``snapshot_stride`` and
  ``snapshot_schedule``; by default epoch 0, every ``snapshot_stride`` epochs and the last),
  read by the smoothness estimator (no retraining).
- ``checkpoint.pt``: model, optimizer, finished epochs, metrics, RNG states; written
  atomically after every epoch. A rerun resumes from it and rewrites ``metrics.csv``; an
  unreadable one is set aside (``checkpoint.pt.corrupt-<time>``) and the run starts afresh.
- ``status.json``: written last (Snakemake output marker).

The outputs describe exactly epochs ``0..epochs`` on the snapshot schedule: a run resumed with
more epochs trains on; one whose checkpoint holds more epochs reports only the first
``epochs`` (nothing is deleted); if a snapshot due on the current schedule is missing (a denser
schedule), the checkpoint is set aside and the run retrains from epoch 0 (deterministic).
``status.json`` lists the snapshot epochs the smoothness estimator uses.

Minibatch order of epoch ``e`` is ``randperm`` from a generator seeded by ``(seed, e)``,
so it never depends on history. Divergence stops the run: a non-finite loss or parameters,
or a finite epoch loss above ``divergence_factor`` times the epoch-0 loss (a blow-up, e.g.
signSGD at step size 10 reaching losses of 1e16). The run still finishes with status
``"diverged"`` and exit code 0.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from signgeom.cli import run_cli
from signgeom.io import RESUMES, atomic_torch_save, rerun_advice
from signgeom.progress import Progress, format_seconds
from signgeom.tasks.base import Task
from signgeom.tasks.registry import TASKS, all_models, task_for_model
from signgeom.training.checkpoint import resume, save_checkpoint, torch_load
from signgeom.training.device import DEVICE_CHOICES, PRECISIONS, autocast, setup_device
from signgeom.training.run_settings import TrainSettings
from signgeom.training.rundir import (
    RunDir,
    due_snapshot_epochs,
    reported_metrics,
)
from signgeom.training.schedule import estimate_epochs, schedule_errors

log = logging.getLogger(__name__)

EVAL_BATCH_SIZE = 1000
CIFAR10 = TASKS["cifar10"]


def epoch_seed(seed: int, epoch: int) -> int:
    """Shuffle seed for ``epoch``: a hash of ``(seed, epoch)`` only."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)


def is_diverged(train_loss: float, initial_loss: float, factor: float) -> bool:
    """Non-finite, or above ``factor`` times the epoch-0 loss (a finite blow-up)."""
    return not math.isfinite(train_loss) or train_loss > factor * initial_loss


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
    task: Task = CIFAR10,
) -> float:
    """One pass of minibatch steps; returns the size-weighted mean minibatch loss.

    The minibatches are ``task.batches``: their order and the augmentation draws come from one
    CPU generator seeded with ``shuffle_seed``; the loss is ``task.loss``. On CPU the loss is
    checked every step (free, no device to sync) and the epoch stops at the first non-finite
    loss; on CUDA it is accumulated on the device and checked once, so the step loop never
    waits for the device.
    """
    net.train()
    gen = torch.Generator().manual_seed(shuffle_seed)
    check_each_step = x.device.type == "cpu"
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    seen = 0
    for xb, yb in task.batches(x, y, batch_size, gen, augmentation):
        with autocast(x.device, precision):
            loss = task.loss(net(xb).float(), yb)
        loss_sum += loss.detach() * yb.shape[0]
        seen += yb.shape[0]
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
    task: Task = CIFAR10,
) -> tuple[float, float]:
    """Eval-mode mean loss and accuracy over ``(x, y)`` (``task.loss``, ``task.correct``)."""
    was_training = net.training
    net.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        with autocast(x.device, precision):
            out = net(x[start : start + batch_size]).float()
        yb = y[start : start + batch_size]
        loss_sum += task.loss(out, yb, reduction="sum")
        correct += task.correct(out, yb)
    net.train(was_training)
    n = x.shape[0]
    return loss_sum.item() / n, correct.item() / n


@torch.no_grad()
def initial_train_loss(
    net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, task: Task = CIFAR10
) -> float:
    """Train-mode mean ``task.loss`` at the current parameters without side effects.

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
            loss_sum += task.loss(out, y[start : start + batch_size], reduction="sum")
    for k, v in net.named_buffers():
        v.copy_(buffers[k])
    return loss_sum.item() / x.shape[0]


def _float32_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {
        k: (v.detach().float() if v.is_floating_point() else v.detach()).cpu().clone()
        for k, v in net.state_dict().items()
    }


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _validate(s: TrainSettings, task: Task) -> None:
    """Reject what the settings cannot know before anything is created on disk: the task's
    models and augmentations, the optimizers, and rules between fields. Each field's own type
    and range are refused where it is declared (``TrainSettings``, on construction)."""
    from signgeom.training.optimizers import OPTIMIZERS

    problems = []
    if s.augmentation not in task.augmentations:
        problems.append(
            f"config key 'cifar.augmentation': unknown augmentation {s.augmentation!r}; "
            f"known: {sorted(task.augmentations)}"
        )
    if s.network not in task.models:
        problems.append(f"network {s.network!r} is not one of {sorted(task.models)}")
    if s.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer {s.optimizer!r} is not one of {sorted(OPTIMIZERS)}")
    if not math.isfinite(s.lr):
        problems.append(f"lr must be finite, got {s.lr}")
    problems += schedule_errors(s.snapshot_schedule, s.snapshot_stride, key="snapshot")
    if problems:
        raise ValueError("; ".join(problems))


def _check_run_id(s: TrainSettings, expected: str | None) -> None:
    """``expected`` (the run directory's name) must be the hash of the settings."""
    if expected is not None and expected != s.run_id():
        raise ValueError(
            f"run id {expected!r} (the run directory's name) is not the hash {s.run_id()!r} "
            f"of this run's settings {s.identity()}: the workflow and the settings passed to "
            "training disagree"
        )


def _metric_row(epoch: int, train_loss: float, diverged: bool, evals, t0: float) -> dict:
    """One ``metrics.csv`` row; ``evals`` = (train_loss_eval, train_acc, test_acc, test_loss)."""
    loss_eval, train_acc, test_acc, test_loss = evals
    return {
        "epoch": epoch,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "test_acc": test_acc,
        "epoch_seconds": time.perf_counter() - t0,
        "diverged": diverged,
        "train_loss_eval": loss_eval,
        "test_loss": test_loss,
    }


@dataclass
class _Trainer:
    """The pieces of one run that every epoch uses."""

    cfg: TrainSettings
    net: nn.Module
    fwd: nn.Module  # net, or its torch.compile wrapper
    opt: torch.optim.Optimizer
    data: Any
    task: Task

    @property
    def epochs(self) -> int:
        return self.cfg.epochs

    @property
    def eval_every(self) -> int:
        return self.cfg.train_eval_every

    @property
    def eval_subset(self) -> int | None:
        return self.cfg.train_eval_subset

    def initial_row(self) -> dict:
        """Epoch 0: the side-effect-free train-mode loss and fp32 evaluations of ``net``."""
        t0, d = time.perf_counter(), self.data
        task = self.task
        loss0 = initial_train_loss(self.net, d.train_x, d.train_y, self.cfg.batch_size, task)
        loss_eval, train_acc = evaluate(
            self.net, d.train_x[: self.eval_subset], d.train_y[: self.eval_subset], task=task
        )
        test_loss, test_acc = evaluate(self.net, d.test_x, d.test_y, task=task)
        return _metric_row(0, loss0, False, (loss_eval, train_acc, test_acc, test_loss), t0)

    def epoch_row(self, epoch: int, loss0: float) -> dict:
        """Train one epoch; evaluate unless it diverged (train set every ``eval_every``)."""
        t0, d, cfg, prec = time.perf_counter(), self.data, self.cfg, self.cfg.precision
        seed = epoch_seed(cfg.seed, epoch)
        train_loss = train_epoch(
            self.fwd, self.opt, d.train_x, d.train_y, cfg.batch_size, seed, cfg.augmentation, prec,
            self.task,
        )  # fmt: skip
        diverged = is_diverged(train_loss, loss0, cfg.divergence_factor)
        diverged = diverged or not params_finite(self.net)
        evals = [float("nan")] * 4
        if not diverged:
            if epoch % self.eval_every == 0 or epoch == self.epochs:
                sub = self.eval_subset
                evals[:2] = self._evaluate(d.train_x[:sub], d.train_y[:sub])
            evals[3], evals[2] = self._evaluate(d.test_x, d.test_y)
        return _metric_row(epoch, train_loss, diverged, evals, t0)

    def snapshot(self, run: RunDir, epoch: int) -> None:
        atomic_torch_save(_float32_state(self.net), run.snapshot(epoch))

    def reported(self, run: RunDir, metrics: list[dict]) -> list[dict]:
        """The rows of epochs ``0..epochs``, as a run trained for exactly ``epochs`` writes
        them: if the checkpoint went further, the last reported row gets the train-set
        evaluation that a run's last epoch always has, from that epoch's snapshot (``net``
        then holds it; nothing trains after this)."""
        rows = [dict(m) for m in reported_metrics(metrics, self.epochs)]
        last = rows[-1]
        needs_eval = last["epoch"] == self.epochs and not last["diverged"]
        if needs_eval and metrics[-1]["epoch"] > self.epochs and math.isnan(last["train_acc"]):
            self.net.load_state_dict(torch_load(run.snapshot(self.epochs), map_location="cpu"))
            d, sub = self.data, self.eval_subset
            last["train_loss_eval"], last["train_acc"] = self._evaluate(
                d.train_x[:sub], d.train_y[:sub]
            )
        return rows

    def _evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """``evaluate`` with the run's forward, precision and task."""
        return evaluate(self.fwd, x, y, precision=self.cfg.precision, task=self.task)


def _setup(cfg: TrainSettings, batches_dir: str | Path, task: Task):
    """Device, the task's data (channels_last if asked), model, compiled forward and
    optimizer."""
    dev = setup_device(cfg.device, cfg.precision, cfg.deterministic)
    t_load = time.perf_counter()
    data = task.load(batches_dir, cfg.network, dev, cfg.train_limit, cfg.test_limit)
    n_train, n_test = data.train_x.shape[0], data.test_x.shape[0]
    log.info("data: %d train / %d test examples of %s on %s (%.1fs)", n_train, n_test,
             task.name, dev, time.perf_counter() - t_load)  # fmt: skip
    if cfg.batch_size > n_train:
        log.warning(
            "batch_size %d exceeds the %d training images: every step is a full-batch step",
            cfg.batch_size,
            n_train,
        )
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    if cfg.channels_last and data.train_x.ndim != 4:
        raise ValueError(f"channels_last needs image inputs; task {task.name!r} has none")
    if cfg.channels_last:
        data.train_x = data.train_x.contiguous(memory_format=fmt)
        data.test_x = data.test_x.contiguous(memory_format=fmt)
    torch.manual_seed(cfg.seed)
    net = task.build_model(cfg.network, data).to(dev)
    if cfg.channels_last:
        net = net.to(memory_format=fmt)
    fwd: nn.Module = torch.compile(net) if cfg.compile else net  # type: ignore[assignment]
    return dev, data, net, fwd, run_optimizer(cfg, net)


def run_optimizer(settings: TrainSettings, net: nn.Module) -> torch.optim.Optimizer:
    """The run's optimizer over ``net``'s parameters: its update rule, step size, momentum and
    (at ``rotation_theta > 0``) rotated coordinates seeded by the run's seed."""
    from signgeom.training.rotation import build_rotated_optimizer

    return build_rotated_optimizer(
        settings.optimizer,
        list(net.named_parameters()),
        lr=settings.lr,
        momentum=settings.momentum,
        theta=settings.rotation_theta,
        block_size=settings.rotation_block_size,
        seed=settings.seed,
    )


def _log_row(row: dict, n_train: int, meter: Progress) -> None:
    log.info(
        "epoch %d | train_loss %.4f | train_acc %.4f | test_acc %.4f | %.0f img/s | %s%s",
        row["epoch"],
        row["train_loss"],
        row["train_acc"],
        row["test_acc"],
        n_train / row["epoch_seconds"],
        meter.line(),
        " | DIVERGED" if row["diverged"] else "",
    )


def _status(metrics: list[dict], cfg: TrainSettings, **extra) -> dict:
    """``status.json``: outcome of the reported epochs ``0..epochs``, settings, ``extra``."""
    epochs, stride, schedule = cfg.epochs, cfg.snapshot_stride, cfg.snapshot_schedule
    metrics = reported_metrics(metrics, epochs)
    last, diverged = metrics[-1], bool(metrics[-1]["diverged"])
    final = [m for m in metrics if not m["diverged"]][-1]
    return {
        "status": "diverged" if diverged else "completed",
        "epochs_completed": final["epoch"],
        "epochs_requested": epochs,
        "diverged_epoch": last["epoch"] if diverged else None,
        "final_train_loss": _finite_or_none(last["train_loss"]),
        "last_finite_train_loss": final["train_loss"],
        "final_test_acc": _finite_or_none(final["test_acc"]),
        "snapshot_epochs": due_snapshot_epochs(
            metrics, epochs, estimate_epochs(epochs, stride, schedule)
        ),
        "total_epoch_seconds": sum(m["epoch_seconds"] for m in metrics),
        "torch_version": torch.__version__,
        "epochs": epochs,
        "snapshot_stride": stride,
        "snapshot_schedule": schedule,
        "run_id": cfg.run_id(),
        **extra,
        "train_eval_every": cfg.train_eval_every,
        "train_eval_subset": cfg.train_eval_subset,
        **cfg.identity(),
    }


def train_run(
    settings: TrainSettings,
    *,
    batches_dir: str | Path,
    out_dir: str | Path,
    expected_run_id: str | None = None,
    task: Task | None = None,
) -> dict[str, Any]:
    """Train (or resume) one run of ``settings`` in ``out_dir``; returns the dict written to
    ``status.json``.

    Data, model, loss and accuracy are ``task``'s (None: the registered task of
    ``settings.network``, ``signgeom.tasks.registry.task_for_model``); ``batches_dir`` is the
    task's data source (CIFAR-10: the batches directory; charlm: the text file).

    The eval-mode pass over the training set (``train_loss_eval``, ``train_acc``) runs at epoch
    0, every ``train_eval_every`` epochs and at the last epoch, on the first
    ``train_eval_subset`` training images (None: all); other rows hold NaN there. Test
    accuracy is computed every epoch.

    ``rotation_theta`` > 0 trains in rotated coordinates (``signgeom.training.rotation``: blocks of
    ``rotation_block_size`` per tensor, rotations drawn from ``seed``); 0 is the plain run.

    ``expected_run_id`` (from the workflow's run directory name) must equal the settings'
    ``run_id()``: a mismatch means the workflow and this call disagree on the settings.
    """
    cfg, epochs = settings, settings.epochs
    task = task_for_model(cfg.network) if task is None else task
    _validate(cfg, task)
    _check_run_id(cfg, expected_run_id)
    dev, data, net, fwd, opt = _setup(cfg, batches_dir, task)
    run = RunDir(out_dir)
    run.path.mkdir(parents=True, exist_ok=True)  # only once arguments and data are known good
    if stale := run.sweep_temp_files():
        log.info("removed %d temporary files of interrupted writes: %s", len(stale), stale)
    trainer = _Trainer(cfg, net, fwd, opt, data, task)
    n_train = data.train_x.shape[0]

    scheduled = set(estimate_epochs(epochs, cfg.snapshot_stride, cfg.snapshot_schedule))
    metrics = resume(run, cfg.identity(), net, opt, epochs, scheduled)
    meter = Progress(epochs, done=metrics[-1]["epoch"] if metrics else 0, unit="epoch")
    if not metrics:  # epoch 0: the initial point
        metrics.append(trainer.initial_row())
        if 0 in scheduled:
            trainer.snapshot(run, 0)
        save_checkpoint(run, cfg.identity(), 0, False, net, opt, metrics)
        _log_row(metrics[-1], n_train, meter)
    else:
        metrics = trainer.reported(run, metrics)  # the checkpoint keeps any later epochs
        run.write_metrics(metrics)

    diverged = bool(reported_metrics(metrics, epochs)[-1]["diverged"])
    for epoch in range(metrics[-1]["epoch"] + 1, epochs + 1):
        if diverged:  # never train on from non-finite parameters
            break
        metrics.append(row := trainer.epoch_row(epoch, metrics[0]["train_loss"]))
        diverged = row["diverged"]
        if not diverged and epoch in scheduled:
            trainer.snapshot(run, epoch)
        save_checkpoint(run, cfg.identity(), epoch, diverged or epoch == epochs, net, opt, metrics)
        meter.update(epoch)
        _log_row(row, n_train, meter)

    status = _status(metrics, cfg, device=str(dev), task=task.name)
    run.write_status(status)
    log.info(
        "finished: %s after %d epochs (%s of epoch time)",
        status["status"],
        status["epochs_completed"],
        format_seconds(status["total_epoch_seconds"]),
    )
    return status


def build_parser() -> argparse.ArgumentParser:
    """The training CLI: ``--settings JSON`` and/or one flag per ``TrainSettings`` field, the
    paths, and the expected run id; the registries' names listed in ``--help``."""
    from signgeom.training.optimizers import OPTIMIZERS

    augmentations = sorted({a for t in TASKS.values() for a in t.augmentations})
    known = f"models: {', '.join(all_models())}; optimizers: {', '.join(sorted(OPTIMIZERS))}"
    known += f"; augmentations: {', '.join(augmentations)}; precisions: "
    known += f"{', '.join(PRECISIONS)}; devices: {', '.join(DEVICE_CHOICES)}"
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=known)
    TrainSettings.add_arguments(p)
    p.add_argument(
        "--batches-dir",
        required=True,
        help="the task's data: CIFAR-10's directory of data_batch_* files; charlm's text file",
    )
    p.add_argument("--out-dir", required=True, help="run directory (created after validation)")
    p.add_argument(
        "--expected-run-id",
        default=None,
        help="the run directory's hash of the settings (the workflow passes it); checked",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    """Parse ``--settings`` and the flags into one ``TrainSettings`` and train."""
    args = build_parser().parse_args(argv)
    with rerun_advice(RESUMES):
        train_run(
            TrainSettings.from_args(args),
            batches_dir=args.batches_dir,
            out_dir=args.out_dir,
            expected_run_id=args.expected_run_id,
        )


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
