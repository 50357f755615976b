"""Device choice and numerical determinism settings.

TF32 is switched off everywhere: smoothness estimates difference two gradients, and
TF32's 10-bit mantissa would swamp that difference with rounding noise.
"""

from __future__ import annotations

import os

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """Map ``auto|cpu|cuda`` (or ``cuda:N``) to a ``torch.device``; ``auto`` prefers CUDA."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"unknown device {name!r}; expected one of {DEVICE_CHOICES}")
    return torch.device(name)


def configure_determinism() -> None:
    """Deterministic kernels (warn-only), no cuDNN autotuning, TF32 off, full fp32 matmuls."""
    # cuBLAS needs this before its first call to be deterministic; harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def setup_device(name: str = "auto") -> torch.device:
    """``configure_determinism()`` then ``resolve_device(name)``."""
    configure_determinism()
    return resolve_device(name)
