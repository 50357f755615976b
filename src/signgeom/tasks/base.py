"""The interface of a task: what training and the estimators need from data, model and loss.

A task names its models and builds them, loads its data as four tensors (training and
held-out inputs and targets; the first ``train_limit`` / ``test_limit`` examples), gives the
minibatches of one epoch, and defines the loss and accuracy of a model output against targets.
Every example counts equally: the task's loss of a batch is the mean over its examples of each
example's loss, so ``sum_k (n_k / n) loss(batch_k)`` is the mean over all examples whatever the
partition (what ``signgeom.estimate.fixed_objective`` differentiates).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

Batch = tuple[torch.Tensor, torch.Tensor]


class TaskData(Protocol):
    """Inputs and targets of the training and held-out splits, on one device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


class Task(ABC):
    """One learning problem; the subclasses are ``cifar.Cifar10Task`` and ``charlm.CharLMTask``."""

    name: str
    """The task's name (``status.json``'s ``task``)."""

    @property
    @abstractmethod
    def models(self) -> tuple[str, ...]:
        """The model names :meth:`build_model` accepts."""

    @property
    def augmentations(self) -> tuple[str, ...]:
        """The training augmentations :meth:`batches` accepts."""
        return ("none",)

    @abstractmethod
    def load(
        self,
        source: Path | str,
        model: str,
        device: torch.device | str,
        train_limit: int | None,
        test_limit: int | None,
    ) -> TaskData:
        """The data at ``source`` as ``model`` reads it, on ``device``."""

    @abstractmethod
    def build_model(self, name: str, data: TaskData) -> nn.Module:
        """A freshly initialised model ``name`` (from the global RNG) for ``data``."""

    @abstractmethod
    def loss(self, output: torch.Tensor, target: torch.Tensor, reduction: str = "mean"):
        """The loss of ``output`` against ``target``: ``mean`` over the examples of each
        example's loss, or their ``sum``."""

    @abstractmethod
    def correct(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Sum over the examples of each example's share of correct predictions."""

    def hessian_loss(self) -> nn.Module:
        """The loss as a torch module with ``reduction="mean"`` (what curvlinops' Hessian
        operator takes, ``signgeom.estimate.fixed_objective.hessian_operator``)."""
        raise NotImplementedError(f"the Hessian stage does not support task {self.name!r} yet")

    def batches(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        generator: torch.Generator,
        augmentation: str = "none",
    ) -> Iterator[Batch]:
        """One epoch of minibatches: a ``randperm`` of the examples from ``generator`` cut into
        ``batch_size`` pieces (the last one shorter), augmented by :meth:`augmenter`."""
        n = x.shape[0]
        perm = torch.randperm(n, generator=generator).to(x.device)
        augment = self.augmenter(augmentation, n, generator, x.device)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            yield augment(x.index_select(0, idx), idx), y.index_select(0, idx)

    def augmenter(self, name: str, n: int, generator: torch.Generator, device: torch.device):
        """``(x_batch, indices) -> x_batch``; the base task knows only ``none``."""
        check_choice("augmentation", name, self.augmentations)
        return lambda xb, idx: xb

    def check_model(self, name: str) -> None:
        """``ValueError`` naming the known models if ``name`` is not one of them."""
        check_choice(f"model of task {self.name!r}", name, self.models)


def check_choice(what: str, value: str, known: tuple[str, ...]) -> None:
    if value not in known:
        raise ValueError(f"unknown {what} {value!r}; known: {sorted(known)}")
