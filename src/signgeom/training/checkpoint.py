"""Checkpoints of a training run: save, load and resume (model, optimizer, metrics, RNG).

A checkpoint is written atomically (``signgeom.io``) after every epoch and always read onto the
CPU: ``load_state_dict`` copies model and optimizer tensors to the parameters' device, while
RNG states must stay CPU byte tensors (``torch.set_rng_state`` refuses CUDA ones). An
unreadable checkpoint, or one whose due snapshots are missing (a denser schedule), is set
aside (``signgeom.training.rundir.set_aside``) and the run starts afresh. An unreadable snapshot
is set aside with the run's ``status.json`` and refused with ``SnapshotError``: the training
job then reruns and, its snapshot missing, retrains the run from epoch 0 (deterministic).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from signgeom.io import atomic_torch_save
from signgeom.training.rundir import RunDir, set_aside

log = logging.getLogger(__name__)


class SnapshotError(ValueError):
    """A snapshot is missing or unreadable; the message names it and how it is remade."""


def unreadable_reason(exc: BaseException) -> str:
    """Why ``torch_load`` failed, without torch's advice to load with ``weights_only=False``
    (which would run whatever code a crafted file holds)."""
    if "weights_only" in str(exc):
        return f"{type(exc).__name__}: not a weights-only torch archive"
    return f"{type(exc).__name__}: {exc}"


def torch_load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` restricted to tensors/containers/primitives (``weights_only=True``)."""
    return torch.load(path, map_location=map_location, weights_only=True)


def load_checkpoint(path: str | Path) -> Any | None:
    """``torch_load(path)`` onto the CPU, or ``None`` if it is missing or unreadable.

    An unreadable file (truncated, not a torch archive) is renamed to
    ``<name>.corrupt-<UTC timestamp>`` (kept for inspection) and a warning names both paths,
    so the caller starts afresh instead of failing the same way on every retry.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        return torch_load(path, map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        aside = set_aside(path, "corrupt")
        log.warning(
            "checkpoint %s is unreadable (%s); set aside as %s, starting this run afresh",
            path,
            unreadable_reason(exc),
            aside,
        )
        return None


def load_snapshot(net: nn.Module, run: RunDir, epoch: int, device: torch.device) -> bool:
    """Copy (and cast to ``net``'s dtype) the snapshot of ``epoch`` into ``net``.

    Returns False, leaving ``net`` unchanged, if the snapshot holds a non-finite entry. A
    missing or unreadable one raises ``SnapshotError`` after ``invalidate_run``.
    """
    path = run.snapshot(epoch)
    try:
        state = torch_load(path, map_location=device)
        finite = all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
        if finite:
            net.load_state_dict(state)
    except Exception as exc:  # missing, truncated, random bytes, another model's tensors
        raise SnapshotError(invalidate_run(run, path, unreadable_reason(exc))) from None
    if not finite:
        log.warning("skipping non-finite snapshot %s", path)
    return finite


def invalidate_run(run: RunDir, snapshot: Path, reason: str) -> str:
    """Set the bad ``snapshot`` and the run's ``status.json`` aside, so that rerunning the
    workflow reruns the training job, which retrains from epoch 0 (the snapshot is missing).
    Returns the message saying so. Either file may already be gone (a concurrent job)."""
    moved = []
    for path in (snapshot, run.status):
        if path.exists():
            moved.append(f"{path} -> {set_aside(path, 'corrupt')}")
    return (
        f"snapshot {snapshot} is unreadable ({reason}). Set aside: {'; '.join(moved) or 'none'}. "
        f"To remake it, rerun the same snakemake command: the training job (rule cifar_train) "
        f"of {run.path} runs again, since its status.json is gone, and retrains the run from "
        f"epoch 0 (deterministic); or retrain it alone with `snakemake <options> {run.status}`."
    )


def rng_state() -> dict[str, Any]:
    """The CPU (and CUDA) RNG states, as CPU byte tensors."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore RNG states; ``torch.(cuda.)set_rng_state`` take CPU byte tensors only."""
    torch.set_rng_state(state["cpu"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([t.cpu() for t in state["cuda"]])


def save_checkpoint(
    run: RunDir,
    config: Mapping[str, Any],
    epoch: int,
    finished: bool,
    net: nn.Module,
    opt: torch.optim.Optimizer,
    metrics: list[dict[str, Any]],
) -> None:
    """Write ``checkpoint.pt`` and then ``metrics.csv`` (both atomically)."""
    state = {
        "config": dict(config),
        "epoch": epoch,
        "finished": finished,
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "metrics": metrics,
        "rng": rng_state(),
    }
    atomic_torch_save(state, run.checkpoint)
    run.write_metrics(metrics)


def resume(
    run: RunDir,
    config: Mapping[str, Any],
    net: nn.Module,
    opt: torch.optim.Optimizer,
    epochs: int,
    scheduled: Collection[int],
) -> list[dict[str, Any]]:
    """Restore ``net``, ``opt`` and the RNG from ``run``'s checkpoint; return its metric rows
    (``[]``: no usable checkpoint, start afresh). A checkpoint of another ``config`` is kept
    and refused with ``ValueError``."""
    ckpt = load_checkpoint(run.checkpoint)
    if ckpt is not None and (missing := run.missing_snapshots(ckpt["metrics"], epochs, scheduled)):
        aside = set_aside(run.checkpoint, "restride")
        log.warning(
            "scheduled snapshots of epochs %s are missing; %s set aside as %s, retraining "
            "from epoch 0",
            missing,
            run.checkpoint,
            aside,
        )
        return []
    if ckpt is None:
        return []
    if ckpt["config"] != dict(config):
        raise ValueError(
            f"{run.checkpoint} was written by a run with another config ({ckpt['config']}; "
            f"now {dict(config)}). It is kept: move or delete {run.path} to train this run afresh."
        )
    net.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    set_rng_state(ckpt["rng"])
    log.info("resumed from %s at epoch %d", run.checkpoint, ckpt["epoch"])
    if ckpt["epoch"] > epochs:
        log.info("the checkpoint holds %d epochs; reporting the first %d", ckpt["epoch"], epochs)
    return list(ckpt["metrics"])
