"""A decoder-only transformer over characters (GPT-style, pre-norm).

Input ids (B, T) with T <= context; output logits (B, T, V). Token embedding (V x W) plus a
learned position embedding (context x W), ``layers`` blocks of

    h <- h + Proj(Attn(LN_1(h))),   h <- h + FC_2(GELU(FC_1(LN_2(h)))),

with causal multi-head self-attention (``heads`` heads of width W / heads, separate query, key
and value maps, ``scaled_dot_product_attention(is_causal=True)``) and an MLP of width 4W; then a
final LayerNorm and an untied linear head without bias. No dropout. Parameter count
(:func:`parameter_count`):

    2 V W + context W + layers (12 W^2 + 13 W) + 2 W.

Init: linear weights and embeddings N(0, 0.02^2), biases zero, LayerNorm weight 1, bias 0: the
logits start near zero, so the initial loss is about ln V.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

INIT_STD = 0.02


@dataclass(frozen=True)
class TransformerSize:
    """The architecture's sizes (the vocabulary comes from the data)."""

    layers: int
    width: int
    heads: int
    context: int

    def __post_init__(self) -> None:
        if min(self.layers, self.width, self.heads, self.context) < 1:
            raise ValueError(f"transformer sizes must be >= 1, got {self}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not a multiple of heads {self.heads}")


def parameter_count(size: TransformerSize, vocab_size: int) -> int:
    """2 V W + context W + layers (12 W^2 + 13 W) + 2 W."""
    w = size.width
    return 2 * vocab_size * w + size.context * w + size.layers * (12 * w * w + 13 * w) + 2 * w


class CausalSelfAttention(nn.Module):
    """Multi-head attention of each position to itself and the positions before it."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, t, w = h.shape

        def split(z: torch.Tensor) -> torch.Tensor:  # (B, T, W) -> (B, heads, T, W / heads)
            return z.view(b, t, self.heads, w // self.heads).transpose(1, 2)

        q, k, v = split(self.query(h)), split(self.key(h)), split(self.value(h))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(a.transpose(1, 2).reshape(b, t, w))


class Block(nn.Module):
    """Pre-norm residual block: attention, then a 4W GELU MLP."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads)
        self.ln_mlp = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h + self.attn(self.ln_attn(h))
        return h + self.mlp(self.ln_mlp(h))


class CharTransformer(nn.Module):
    """Logits (B, T, V) of the next character at every position of ids (B, T)."""

    def __init__(self, size: TransformerSize, vocab_size: int) -> None:
        super().__init__()
        self.size = size
        self.token = nn.Embedding(vocab_size, size.width)
        self.position = nn.Embedding(size.context, size.width)
        self.blocks = nn.Sequential(*(Block(size.width, size.heads) for _ in range(size.layers)))
        self.ln_final = nn.LayerNorm(size.width)
        self.head = nn.Linear(size.width, vocab_size, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Linear | nn.Embedding):
                nn.init.normal_(m.weight, std=INIT_STD)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        if t > self.size.context:
            raise ValueError(f"{t} tokens exceed the context of {self.size.context}")
        pos = torch.arange(t, device=ids.device)
        h = self.token(ids) + self.position(pos)
        return self.head(self.ln_final(self.blocks(h)))
