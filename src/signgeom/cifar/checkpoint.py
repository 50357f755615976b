"""Checkpoints of a training run: save, load and resume (model, optimizer, metrics, RNG).

A checkpoint is written atomically (``signgeom.io``) after every epoch and always read onto the
CPU: ``load_state_dict`` copies model and optimizer tensors to the parameters' device, while
RNG states must stay CPU byte tensors (``torch.set_rng_state`` refuses CUDA ones). An
unreadable checkpoint, or one whose due snapshots are missing (a denser schedule), is set
aside (``signgeom.cifar.rundir.set_aside``) and the run starts afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from signgeom.cifar.rundir import RunDir, set_aside
from signgeom.io import atomic_torch_save

log = logging.getLogger(__name__)


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
            "checkpoint %s is unreadable (%s: %s); set aside as %s, starting this run afresh",
            path,
            type(exc).__name__,
            exc,
            aside,
        )
        return None


def load_snapshot(net: nn.Module, run: RunDir, epoch: int, device: torch.device) -> bool:
    """Copy (and cast to ``net``'s dtype) the snapshot of ``epoch`` into ``net``.

    Returns False, leaving ``net`` unchanged, if the snapshot holds a non-finite entry.
    """
    state = torch_load(run.snapshot(epoch), map_location=device)
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        log.warning("skipping non-finite snapshot %s", run.snapshot(epoch))
        return False
    net.load_state_dict(state)
    return True


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
