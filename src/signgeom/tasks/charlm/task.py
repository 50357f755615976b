"""Character-level language modelling: next-character prediction on a UTF-8 text file.

The data are the corpus windows of ``corpus`` (the model's context long), the models the named
sizes of :data:`SIZES` (``transformer``), the loss the mean over sequences of each sequence's
mean next-character cross-entropy (every sequence has ``context`` targets, so this is the mean
over all targets), the accuracy the share of next characters predicted (the most probable one).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from signgeom.tasks.base import ParameterBlock, Task, TaskData, blocks_by_module
from signgeom.tasks.charlm.corpus import load_corpus
from signgeom.tasks.charlm.transformer import CharTransformer, TransformerSize

SIZES: dict[str, TransformerSize] = {
    "transformer-tiny": TransformerSize(layers=1, width=32, heads=2, context=32),
    "transformer-cpu": TransformerSize(layers=2, width=64, heads=4, context=64),
    "transformer-shakespeare": TransformerSize(layers=6, width=384, heads=6, context=256),
}
"""Models by name: a test-sized one, the CPU one (about 0.12 M parameters at 103 characters)
and nanoGPT's shakespeare-char size (for a GPU)."""

BLOCK_ROLES: dict[str, str] = {
    "token": "embedding_token",
    "position": "embedding_position",
    "attn.query": "attn_query",
    "attn.key": "attn_key",
    "attn.value": "attn_value",
    "attn.out": "attn_out",
    "ln_attn": "norm",
    "ln_mlp": "norm",
    "ln_final": "norm",
    "mlp.0": "mlp_in",
    "mlp.2": "mlp_out",
    "head": "head",
}
"""The Hessian blocks of :class:`CharTransformer`: one per layer (weight and bias together),
its role by the end of the layer's module path."""


class SequenceCrossEntropy(nn.Module):
    """Mean next-character cross-entropy of logits (N, T, V) against ids (N, T), the task's
    loss as a module with ``reduction = "mean"`` (curvlinops scales it by N / n)."""

    reduction = "mean"

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output.flatten(0, 1), target.flatten())


class CharLMTask(Task):
    """Windows of a text file; any UTF-8 file (``source``) reads through the same path."""

    name = "charlm"

    def __init__(self, sizes: dict[str, TransformerSize] | None = None) -> None:
        self.sizes = dict(SIZES if sizes is None else sizes)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.sizes)

    def load(self, source, model, device, train_limit, test_limit) -> TaskData:
        """Windows of ``model``'s context from the text file ``source``."""
        self.check_model(model)
        context = self.sizes[model].context
        return load_corpus(source, context, device, train_limit, test_limit)

    def build_model(self, name: str, data: TaskData) -> nn.Module:
        self.check_model(name)
        return CharTransformer(self.sizes[name], len(data.vocabulary))  # type: ignore[attr-defined]

    def loss(self, output: torch.Tensor, target: torch.Tensor, reduction: str = "mean"):
        """Logits (N, T, V), ids (N, T): the mean over the N T targets, or N times it (the sum
        over sequences of each one's mean)."""
        mean = F.cross_entropy(output.flatten(0, 1), target.flatten())
        if reduction == "mean":
            return mean
        if reduction == "sum":
            return mean * target.shape[0]
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")

    def hessian_loss(self) -> nn.Module:
        return SequenceCrossEntropy()

    def parameter_blocks(self, model: nn.Module) -> list[ParameterBlock]:
        """One block per layer (:func:`blocks_by_module`), roles from :data:`BLOCK_ROLES`: the
        embeddings, attention query / key / value / output, MLP in / out, norms, head."""
        out = []
        for b in blocks_by_module(model):
            roles = [r for end, r in BLOCK_ROLES.items() if b.name == end or b.name.endswith(
                "." + end)]  # fmt: skip
            if len(roles) != 1:
                raise ValueError(f"layer {b.name!r} has no role in BLOCK_ROLES ({roles})")
            out.append(ParameterBlock(b.name, roles[0], b.parameters))
        return out

    def correct(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Sum over sequences of each one's share of correctly predicted characters."""
        return (output.argmax(-1) == target).double().mean(dim=1).sum()
