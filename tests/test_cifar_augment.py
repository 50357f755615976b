"""Keras-style shift/flip augmentation against a direct per-image construction."""

from __future__ import annotations

import pytest
import torch

from signgeom.tasks.cifar.augment import build_augmenter, shift_flip


def _reference(img: torch.Tensor, dy: int, dx: int, flip: bool) -> torch.Tensor:
    """Shift by (dy, dx) with nearest (border-repeat) fill, then an optional mirror."""
    _, h, w = img.shape
    out = torch.empty_like(img)
    for i in range(h):
        for j in range(w):
            out[:, i, j] = img[:, min(max(i - dy, 0), h - 1), min(max(j - dx, 0), w - 1)]
    return out.flip(-1) if flip else out


def test_shift_flip_matches_per_image_reference():
    torch.manual_seed(0)
    n = 6
    x = torch.randn(n, 3, 32, 32)
    gen = torch.Generator().manual_seed(5)
    apply = shift_flip(n, gen, torch.device("cpu"))
    out = apply(x, torch.arange(n))
    # replay the draws to know each image's shift and flip
    g2 = torch.Generator().manual_seed(5)
    shifts = torch.rand(n, 2, generator=g2) * 2 - 1
    flips = torch.rand(n, generator=g2) < 0.5
    for k in range(n):
        dy, dx = (int(round(float(v) * 3.2)) for v in shifts[k])
        assert -3 <= dy <= 3 and -3 <= dx <= 3
        assert torch.equal(out[k], _reference(x[k], dy, dx, bool(flips[k]))), k


def test_batch_indices_select_each_images_own_draw():
    x = torch.randn(8, 3, 32, 32)
    full = shift_flip(8, torch.Generator().manual_seed(1), torch.device("cpu"))
    idx = torch.tensor([5, 2, 7])
    part = shift_flip(8, torch.Generator().manual_seed(1), torch.device("cpu"))
    assert torch.equal(part(x[idx], idx), full(x, torch.arange(8))[idx])


def test_none_draws_nothing_and_unknown_name_is_named():
    gen = torch.Generator().manual_seed(0)
    before = gen.get_state().clone()
    x = torch.randn(2, 3, 32, 32)
    assert build_augmenter("none")(2, gen, torch.device("cpu"))(x, torch.arange(2)) is x
    assert torch.equal(gen.get_state(), before)
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        build_augmenter("flip")
