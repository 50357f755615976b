"""Device choice and the numerics of training and estimation.

Training precision (``cifar.training.precision``):

- ``fp32``: strict float32, TF32 off, ``float32_matmul_precision("highest")`` (the reference);
- ``tf32``: float32 storage, TF32 tensor-core matmuls/convolutions on CUDA (10-bit mantissa
  products, float32 accumulation); identical to ``fp32`` on the CPU;
- ``bf16``: ``torch.autocast`` to bfloat16 for the forward/backward pass, float32 parameters,
  optimizer state and loss reduction.

``deterministic`` switches deterministic kernels on and cuDNN autotuning off (bit-reproducible
on one device and software stack), or off and autotuning on (faster on CUDA).

The smoothness estimator always uses strict fp32 (or fp64): it differences two gradients, and
TF32's or bf16's rounding would swamp that difference. :func:`configure_numerics` is therefore
called by every job for its own settings; nothing carries over between processes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

from signgeom.training.run_settings import DEVICE_CHOICES, PRECISIONS


def resolve_device(name: str = "auto") -> torch.device:
    """Map ``auto|cpu|cuda`` (or ``cuda:N``) to a ``torch.device``; ``auto`` prefers CUDA."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"unknown device {name!r}; expected one of {DEVICE_CHOICES}")
    return torch.device(name)


def configure_numerics(precision: str = "fp32", deterministic: bool = True) -> None:
    """Set TF32 and determinism flags for this process (see the module docstring)."""
    # A precondition of this library function (setup_device; the estimators and tests call it
    # outside a training run); a run's precision is refused where it is declared
    # (TrainSettings.precision).
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    if deterministic:
        # cuBLAS needs this before its first call to be deterministic; harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to bfloat16 for ``precision == "bf16"``, else a no-op context."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def setup_device(
    name: str = "auto", precision: str = "fp32", deterministic: bool = True
) -> torch.device:
    """``configure_numerics(precision, deterministic)`` then ``resolve_device(name)``."""
    configure_numerics(precision, deterministic)
    return resolve_device(name)


@contextlib.contextmanager
def strict_fp32() -> Iterator[None]:
    """Temporarily strict fp32 (TF32 off), restoring the previous flags on exit."""
    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.get_float32_matmul_precision(),
    )
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved[0]
        torch.backends.cudnn.allow_tf32 = saved[1]
        torch.set_float32_matmul_precision(saved[2])
