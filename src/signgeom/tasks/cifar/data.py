"""CIFAR-10 in the official python format (``cifar-10-batches-py``).

Each batch file is a pickle with ``data``: uint8 array (n, 3072) -- 1024 red, 1024 green,
1024 blue values, each a row-major 32x32 plane -- and ``labels``: n ints in 0..9.
Images are normalised per channel as ``(x / 255 - mean_c) / std_c``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from signgeom.cli import optional_path, run_cli
from signgeom.workflow import base_dir

# The directory name of the official archive's content; the workflow's data rule writes
# data/cifar10/<BATCHES_DIRNAME> (signgeom.plan.cifar.CIFAR_BATCHES).
BATCHES_DIRNAME = "cifar-10-batches-py"
TRAIN_FILES: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES: tuple[str, ...] = ("test_batch",)
META_FILE = "batches.meta"
REQUIRED_FILES: tuple[str, ...] = (*TRAIN_FILES, *TEST_FILES, META_FILE)

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"

# Per-channel statistics of the 50,000 CIFAR-10 training images (pixel values in [0, 1]).
CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)

# What to do about a bad file depends on whose directory it is: the pipeline's own copy can be
# deleted and remade, the user's source copy (cifar.data.local_dir) must not be.
FIX_COPY = "Delete {dir} and rerun the `cifar_data` rule; it is remade from cifar.data.source."
FIX_SOURCE = (
    "{dir} is your source copy (cifar.data.local_dir) and was left as it is; nothing was "
    "copied. Restore the file from the official archive ({url}) or point "
    "cifar.data.local_dir at a complete copy."
)
FIX_DOWNLOAD = "The downloaded archive is malformed and was discarded; rerun to download it again."

# The only globals the official format needs: NumPy array reconstruction (pickles written by
# NumPy 1 name numpy.core, NumPy 2 numpy._core; protocol 5 uses _frombuffer), and bytes as
# Python 3 writes them at protocol 2 (_codecs.encode). Everything else, e.g. os.system or
# builtins.eval, is refused: a batch file must not be able to run code.
_ALLOWED_GLOBALS = frozenset(
    {
        ("_codecs", "encode"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }
)


class CifarDataError(ValueError):
    """A CIFAR-10 file is missing, corrupted or malformed; the message says how to fix it."""


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler admitting only containers, strings, numbers and NumPy arrays."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refused global {module}.{name} (a CIFAR-10 batch holds only dicts, lists, "
                "strings, numbers and NumPy arrays)"
            )
        return super().find_class(module, name)


def _advice(template: str, directory: Path) -> str:
    return template.format(dir=directory, url=URL)


def _unpickle(path: Path) -> dict[str, object]:
    """Unpickle one batch file (restricted); keys are returned as ``str`` (any protocol)."""
    if not path.is_file():
        raise CifarDataError(f"{path.name} is missing from {path.parent}.")
    try:
        with path.open("rb") as fh:
            obj = _BatchUnpickler(fh, encoding="latin1").load()
    except Exception as exc:  # truncated pickles raise EOFError, UnpicklingError, ValueError...
        raise CifarDataError(
            f"{path.name} in {path.parent} is truncated or corrupted, or not in the "
            f"official CIFAR-10 python format (could not unpickle: {exc})."
        ) from exc
    if not isinstance(obj, dict):
        raise CifarDataError(f"{path.name} in {path.parent} is not a CIFAR-10 batch dict.")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate one data batch: uint8 (n, 3072) images and int64 (n,) labels."""
    batch = _unpickle(path)
    data, labels = batch.get("data"), batch.get("labels")
    where = f"{path.name} in {path.parent}"
    ok = isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
    if not ok or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise CifarDataError(f"{where} has no uint8 `data` of shape (n, 3072) ({shape}).")
    try:
        labels_arr = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise CifarDataError(f"{where} has unreadable `labels`.") from exc
    if labels_arr.shape != (data.shape[0],):
        raise CifarDataError(f"{where} has {labels_arr.shape} labels for {data.shape[0]} images.")
    bad = np.flatnonzero((labels_arr < 0) | (labels_arr > 9))
    if bad.size:
        raise CifarDataError(
            f"{where} has {bad.size} labels outside 0..9; the first is {labels_arr[bad[0]]} at "
            f"position {bad[0]} (0-based, image {bad[0]} of this file)."
        )
    return data, labels_arr


def verify_batches_dir(path: Path | str, advice: str | None = None) -> Path:
    """Check that every file of ``REQUIRED_FILES`` exists and is a well-formed batch.

    ``advice`` is appended to an error: what to do (default: delete this copy and remake it).
    """
    path = Path(path)
    try:
        if not path.is_dir():
            raise CifarDataError(f"CIFAR-10 directory {path} does not exist.")
        for name in (*TRAIN_FILES, *TEST_FILES):
            _read_batch(path / name)
        meta = _unpickle(path / META_FILE)
        if len(meta.get("label_names", ())) != 10:
            raise CifarDataError(f"{META_FILE} in {path} does not list 10 label names.")
    except CifarDataError as exc:
        raise CifarDataError(f"{exc} {advice or _advice(FIX_COPY, path)}") from exc
    return path


def load_split(
    batches_dir: Path | str, split: Literal["train", "test"], limit: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a split as uint8 images (N, 3, 32, 32) and int64 labels (N,).

    ``limit`` keeps the first ``limit`` images in file order (at most the split size);
    batch files after the one that reaches the limit are not read.
    """
    files = {"train": TRAIN_FILES, "test": TEST_FILES}[split]
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    datas, labels, count = [], [], 0
    for name in files:
        if limit is not None and count >= limit:
            break
        try:
            data, lab = _read_batch(Path(batches_dir) / name)
        except CifarDataError as exc:
            raise CifarDataError(f"{exc} {_advice(FIX_COPY, Path(batches_dir))}") from exc
        datas.append(data)
        labels.append(lab)
        count += len(lab)
    images = np.concatenate(datas)[:limit] if datas else np.empty((0, 3072), np.uint8)
    targets = np.concatenate(labels)[:limit] if labels else np.empty(0, np.int64)
    return (
        torch.from_numpy(np.ascontiguousarray(images)).reshape(-1, 3, 32, 32),
        torch.from_numpy(np.ascontiguousarray(targets)),
    )


def normalize(
    images_uint8: torch.Tensor,
    mean: tuple[float, ...] = CIFAR10_MEAN,
    std: tuple[float, ...] = CIFAR10_STD,
) -> torch.Tensor:
    """Return float32 ``(x / 255 - mean_c) / std_c`` for images (..., C, H, W), on their device."""
    dev = images_uint8.device
    m = torch.tensor(mean, dtype=torch.float32, device=dev).view(-1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=dev).view(-1, 1, 1)
    return (images_uint8.to(torch.float32) / 255.0 - m) / s


@dataclass
class CifarTensors:
    """Normalised float32 images (N, 3, 32, 32) and int64 labels, on the target device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def load_cifar10(
    batches_dir: Path | str,
    device: torch.device | str = "cpu",
    train_limit: int | None = None,
    test_limit: int | None = None,
) -> CifarTensors:
    """Load both splits once, move the uint8 tensors to ``device`` and normalise there."""
    out = []
    for split, limit in (("train", train_limit), ("test", test_limit)):
        x, y = load_split(batches_dir, split, limit)
        out += [normalize(x.to(device)), y.to(device)]
    return CifarTensors(*out)


def _publish(tmp_batches: Path, dest: Path, advice: str) -> None:
    """Verify ``tmp_batches`` and atomically rename it to ``dest``."""
    verify_batches_dir(tmp_batches, advice)
    os.rename(tmp_batches, dest)


def prepare_cifar10(
    dest_root: Path | str,
    source: Literal["download", "local"],
    local_dir: Path | str | None = None,
) -> Path:
    """Make ``dest_root/cifar-10-batches-py`` complete and verified; return its path.

    The files are staged in a temporary directory next to the destination and renamed into
    place only after verification, so an interrupted or failed run leaves nothing that looks
    complete. An existing destination is verified and reused, once the configured source has
    been checked: a mistyped ``local_dir`` fails the job (and leaves the destination as it was)
    instead of passing unnoticed.
    """
    dest_root = Path(dest_root)
    dest = dest_root / BATCHES_DIRNAME
    src = None
    if source == "local":
        src = _resolve_local(local_dir)
    elif source != "download":
        raise CifarDataError(f"unknown cifar.data.source {source!r}; use 'download' or 'local'.")
    if dest.exists():
        return verify_batches_dir(dest)
    dest_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{BATCHES_DIRNAME}.tmp-", dir=dest_root))
    try:
        if source == "local":
            staged = tmp / BATCHES_DIRNAME
            staged.mkdir()
            for name in REQUIRED_FILES:
                shutil.copyfile(src / name, staged / name)
        else:
            staged = _download(tmp)
        _publish(staged, dest, _advice(FIX_SOURCE, src) if src else FIX_DOWNLOAD)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _resolve_local(local_dir: Path | str | None) -> Path:
    """Accept the ``cifar-10-batches-py`` directory itself or its parent; verify it."""
    if local_dir is None:
        raise CifarDataError("cifar.data.source is 'local' but cifar.data.local_dir is not set.")
    local_dir = Path(local_dir)
    if not local_dir.is_dir():
        raise CifarDataError(
            f"cifar.data.local_dir {local_dir} does not exist. Point it at a "
            f"`{BATCHES_DIRNAME}` directory (or its parent)."
        )
    nested = local_dir / BATCHES_DIRNAME
    src = nested if nested.is_dir() else local_dir
    return verify_batches_dir(src, _advice(FIX_SOURCE, src))


def _download(tmp: Path) -> Path:
    """Download and extract the official archive (md5-checked) into ``tmp``."""
    from torchvision.datasets import utils as tv_utils  # on use: the Snakefile imports this module

    try:
        tv_utils.download_and_extract_archive(
            URL, download_root=str(tmp), md5=ARCHIVE_MD5, remove_finished=True
        )
    except Exception as exc:  # no network, HTTP errors, md5 mismatch, bad archive
        raise CifarDataError(
            f"downloading CIFAR-10 from {URL} failed ({exc!r}). Without network access, set "
            "`cifar.data.source: local` and `cifar.data.local_dir` to a copy of "
            f"`{BATCHES_DIRNAME}`."
        ) from exc
    return tmp / BATCHES_DIRNAME


def local_source_problems(
    source: str, local_dir: str | None, workflow_dir: Path
) -> tuple[list[str], list[str]]:
    """``(errors, warnings)`` about ``cifar.data.local_dir`` before any job runs.

    The data job (:func:`main`) resolves a relative ``local_dir`` against :func:`_base_dir`: the
    checkout the package is imported from. Error: with ``source: local``, the resolved path is
    no directory (a mistyped path then stops the workflow before the data job, which would
    otherwise run, fail, and leave its changed settings recorded, so that reverting the typo
    reran every estimate; the job itself checks the files). Warning: that
    checkout is not ``workflow_dir`` (an editable install from another checkout), so a
    relative path names the other checkout's data.
    """
    if source != "local" or not local_dir:
        return [], []
    base = base_dir(None)
    resolved = base / local_dir
    errors, warnings = [], []
    if not resolved.is_dir():
        where = "" if Path(local_dir).is_absolute() else f" (resolved against {base}: {resolved})"
        errors.append(
            f"config key 'cifar.data.local_dir': {local_dir}{where} is not a directory; point "
            f"it at a copy of `{BATCHES_DIRNAME}` (or its parent)"
        )
    if not Path(local_dir).is_absolute() and base.resolve() != Path(workflow_dir).resolve():
        warnings.append(
            f"config key 'cifar.data.local_dir': the relative path {local_dir} resolves "
            f"against {base}, the checkout signgeom is imported from (an install from "
            f"there), not against this workflow's checkout {workflow_dir}: the data job "
            f"copies {resolved}; write an absolute path to use another copy"
        )
    return errors, warnings


def main(argv: list[str] | None = None) -> None:
    """CLI: prepare the data directory and print its verified path. A relative ``--local-dir``
    is relative to ``--base-dir``; by default the signgeom checkout
    (:func:`signgeom.workflow.checkout`: the source tree of an editable install, as the
    workflow runs it), else the working directory, so a configured relative path means the
    same wherever the workflow runs."""
    parser = argparse.ArgumentParser(description=prepare_cifar10.__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, required=True, help="root of the data directory")
    parser.add_argument(
        "--source", choices=("download", "local"), required=True, help="where the files come from"
    )
    parser.add_argument(
        "--local-dir",
        type=optional_path,
        default=None,
        help="source copy, for --source local; none: unset",
    )
    parser.add_argument(
        "--base-dir",
        type=Path,
        default=None,
        help="a relative --local-dir is relative to this directory (default: the checkout, "
        "else the working directory)",
    )
    args = parser.parse_args(argv)
    local_dir = None if args.local_dir is None else base_dir(args.base_dir) / args.local_dir
    print(prepare_cifar10(args.dest, args.source, local_dir))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
