"""CIFAR-10 image classification: the Keras CNN and ResNet20 with cross-entropy."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from signgeom.tasks.base import Task, TaskData, check_choice
from signgeom.tasks.cifar.augment import AUGMENTERS
from signgeom.tasks.cifar.data import load_cifar10
from signgeom.tasks.cifar.models import MODELS, build_model


class Cifar10Task(Task):
    """Normalised images (N, 3, 32, 32) and labels 0..9 from the official batch files."""

    name = "cifar10"
    image_inputs = True

    @property
    def models(self) -> tuple[str, ...]:
        """The keys of ``signgeom.tasks.cifar.models.MODELS`` (read at each call: a registered model
        joins)."""
        return tuple(MODELS)

    @property
    def augmentations(self) -> tuple[str, ...]:
        return tuple(AUGMENTERS)

    def load(self, source, model, device, train_limit, test_limit) -> TaskData:
        """``source``: the ``cifar-10-batches-py`` directory; ``model`` does not matter."""
        return load_cifar10(
            Path(source), device=device, train_limit=train_limit, test_limit=test_limit
        )

    def build_model(self, name: str, data: TaskData) -> nn.Module:
        return build_model(name)

    def loss(self, output: torch.Tensor, target: torch.Tensor, reduction: str = "mean"):
        """Cross-entropy of the logits (N, 10) against the labels."""
        return F.cross_entropy(output, target, reduction=reduction)

    def correct(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (output.argmax(1) == target).sum()

    def hessian_loss(self) -> nn.Module:
        return nn.CrossEntropyLoss()

    def augmenter(self, name: str, n: int, generator: torch.Generator, device: torch.device):
        """``signgeom.tasks.cifar.augment``'s augmenter ``name`` (its draws from ``generator``)."""
        check_choice("augmentation", name, tuple(AUGMENTERS))
        return AUGMENTERS[name](n, generator, device)
