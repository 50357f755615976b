"""Training-time data augmentation, on the device, reproducible from a seed.

``keras``: the Keras ``cifar10_cnn`` example's ``ImageDataGenerator(width_shift_range=0.1,
height_shift_range=0.1, horizontal_flip=True)``, i.e. per image an independent shift of up to
10% of the width and height and a horizontal flip with probability 1/2, with
``fill_mode="nearest"`` (pixels shifted in repeat the border). Keras draws real-valued shifts
and interpolates; here shifts are whole pixels, ``round(U(-0.1, 0.1) * 32)`` in -3..3, so no
interpolation blurs the images. Shifting and flipping commute with the per-channel
normalisation, so they are applied to normalised images.

``none``: the images as they are. Estimation data are never augmented.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

KERAS_SHIFT_FRACTION = 0.1

# augmenter(n, gen, device) -> apply(x_batch, idx): draws for all n images of an epoch are made
# once (from ``gen``, a CPU generator) and moved to the device once, so the step loop never
# waits on a host-to-device copy; ``idx`` are the batch's image indices into the epoch's draws.
Apply = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Augmenter = Callable[[int, torch.Generator, torch.device], Apply]


def shift_flip(
    n: int,
    gen: torch.Generator,
    device: torch.device,
    shift_fraction: float = KERAS_SHIFT_FRACTION,
    size: tuple[int, int] = (32, 32),
) -> Apply:
    """Per image: integer shifts (dy, dx) with nearest fill, then a random horizontal flip.

    ``out[c, i, j] = x[c, clamp(i - dy), clamp(f(j) - dx)]`` with ``clamp`` to the image and
    ``f(j) = w - 1 - j`` for a flipped image (identity otherwise): the shifted image, mirrored.
    All draws come from ``gen``.
    """
    h, w = size
    shifts = torch.rand(n, 2, generator=gen) * 2 - 1
    dy = torch.round(shifts[:, 0] * shift_fraction * h).long()
    dx = torch.round(shifts[:, 1] * shift_fraction * w).long()
    flip = torch.rand(n, generator=gen) < 0.5
    cols = torch.arange(w)
    cols = torch.where(flip[:, None], w - 1 - cols, cols)  # (n, w): mirrored or not
    rows = (torch.arange(h)[None, :] - dy[:, None]).clamp(0, h - 1).to(device)  # (n, h)
    cols = (cols - dx[:, None]).clamp(0, w - 1).to(device)  # (n, w)

    def apply(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        b = torch.arange(x.shape[0], device=x.device)[:, None, None]
        r, c = rows[idx][:, :, None], cols[idx][:, None, :]
        # (b, h, w, C) gathered from channels-last view, then channels moved back.
        return x.permute(0, 2, 3, 1)[b, r, c].permute(0, 3, 1, 2)

    return apply


def no_augmentation(n: int, gen: torch.Generator, device: torch.device) -> Apply:
    """The images as they are (draws nothing from ``gen``)."""
    return lambda x, idx: x


AUGMENTERS: dict[str, Augmenter] = {"none": no_augmentation, "keras": shift_flip}


def build_augmenter(name: str) -> Augmenter:
    """The augmentation registered as ``name``."""
    if name not in AUGMENTERS:
        raise ValueError(f"unknown augmentation {name!r}; known: {sorted(AUGMENTERS)}")
    return AUGMENTERS[name]
