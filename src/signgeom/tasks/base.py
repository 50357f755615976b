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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ParameterBlock:
    """One block of the Hessian's block partition: a ``name``, a ``role`` shared by the blocks
    of one kind (``embedding``, ``attn_query``, ``norm``, ...) and the names of its parameter
    tensors (``model.named_parameters()``)."""

    name: str
    role: str
    parameters: tuple[str, ...]


class Task(ABC):
    """One learning problem; the subclasses are ``cifar.Cifar10Task`` and ``charlm.CharLMTask``."""

    name: str
    """The task's name (``status.json``'s ``task``)."""

    image_inputs: bool = False
    """Whether the inputs are images (N, C, H, W), the only ones ``channels_last`` applies to."""

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

    def parameter_blocks(self, model: nn.Module) -> list[ParameterBlock]:
        """The partition of ``model``'s trainable parameters into Hessian blocks (the per-block
        Hessian statistics, ``signgeom.estimate.hessian_param_blocks``); the base task: one
        block per layer (:func:`blocks_by_module`)."""
        return blocks_by_module(model)

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


def blocks_by_module(model: nn.Module) -> list[ParameterBlock]:
    """One block per module that holds trainable parameters itself (a layer: its weight and
    bias), named by the module's path, its role the module's class name in lower case."""
    out = []
    for path, module in model.named_modules():
        own = [n for n, p in module.named_parameters(recurse=False) if p.requires_grad]
        if own:
            names = tuple(f"{path}.{n}" if path else n for n in own)
            out.append(ParameterBlock(path or "model", type(module).__name__.lower(), names))
    return out


def check_partition(model: nn.Module, blocks: Sequence[ParameterBlock]) -> None:
    """``ValueError`` unless ``blocks`` hold every trainable parameter of ``model`` exactly
    once, and nothing else, under distinct block names."""
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    listed = [n for b in blocks for n in b.parameters]
    twice = sorted({n for n in listed if listed.count(n) > 1})
    missing = sorted(set(trainable) - set(listed))
    unknown = sorted(set(listed) - set(trainable))
    names = [b.name for b in blocks]
    dup_names = sorted({n for n in names if names.count(n) > 1})
    if twice or missing or unknown or dup_names:
        raise ValueError(
            f"not a partition of the trainable parameters: in two blocks {twice}, in none "
            f"{missing}, not trainable parameters {unknown}, repeated block names {dup_names}"
        )
