"""Atomic file output (a reader never sees a half-written result file) and table reading.

Every writer here goes through a temporary file in the same directory and ``os.replace``, so a
reader (or a resumed job) sees either the old or the new file, never a torn one. The fsynced
writers raise ``WriteError`` naming the file and the fix when the write fails (full disk,
quota, permissions).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

import pandas as pd


class WriteError(ValueError):
    """An output file could not be written; the message names it and what to do."""


# What a rerun does after a failed write, for the kind of job running: by default the job
# writes its outputs again from its inputs; a training job resumes (signgeom.training.train).
REWRITES = "the job writes {path} again from its inputs."
RESUMES = "a training run resumes from its last complete checkpoint."
_RERUN: ContextVar[str] = ContextVar("rerun", default=REWRITES)


@contextmanager
def rerun_advice(advice: str) -> Iterator[None]:
    """While active, a ``WriteError`` says that a rerun does ``advice`` (``{path}``: the file)."""
    token = _RERUN.set(advice)
    try:
        yield
    finally:
        _RERUN.reset(token)


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only if the block succeeds.

    The suffix of ``path`` is kept so that writers that infer the format from it still work.
    The file gets the usual permissions (``0o666`` less the umask), not ``mkstemp``'s ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    tmp_path = Path(tmp)
    try:
        os.close(fd)
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def temp_files_glob(path: str | os.PathLike) -> str:
    """Glob of the names of ``atomic_output``'s temporary files for ``path`` (whose name may
    itself hold ``*``), to sweep those left by a killed writer."""
    path = Path(path)
    return f".{path.stem}.*{path.suffix}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """``pd.read_csv`` (or ``read_parquet`` for ``.parquet``) with an error that names the file
    when it is missing, empty or corrupted."""
    try:
        if Path(path).suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(
            f"{path}: cannot read table ({err}); rerun the job that writes it"
        ) from err


def atomic_write(path: str | os.PathLike, write_fn: Callable[[IO], Any], mode: str) -> None:
    """``write_fn(file)`` into a temporary file, synced to disk, then moved onto ``path``.

    ``OSError`` (e.g. ENOSPC) and torch's ``RuntimeError`` from its zip writer (a full disk
    shows up as ``[enforce fail at inline_container.cc...]``) become ``WriteError``; the old
    file, if any, is untouched.
    """
    path = Path(path)
    newline = {"newline": ""} if "b" not in mode else {}
    try:
        with atomic_output(path) as tmp, open(tmp, mode, **newline) as fh:
            write_fn(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except (OSError, RuntimeError) as exc:
        raise WriteError(
            f"could not write {path} ({type(exc).__name__}: {exc}). Check that the file system "
            f"of {path.parent} has free space and is writable (`df -h {path.parent}`), then "
            "rerun: " + _RERUN.get().format(path=path)
        ) from exc


def atomic_write_text(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda fh: fh.write(text), "w")


def atomic_write_json(obj: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write ``obj`` as indented JSON atomically (non-finite floats must be converted first)."""
    atomic_write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n", path)


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``table`` as CSV atomically: the one CSV writer of the package.

    Floats are written in pandas' default form, the shortest decimal that reads back to the
    same float64 (as ``repr``); missing values are empty fields.
    """
    atomic_write(path, lambda fh: table.to_csv(fh, index=False), "w")


def write_rows(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], path: str | os.PathLike
) -> None:
    """``write_table`` of dict rows, in ``columns`` order (a key a row lacks is left empty)."""
    write_table(pd.DataFrame(list(rows), columns=list(columns)), path)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically."""
    import torch

    atomic_write(path, lambda fh: torch.save(obj, fh), "wb")


def concat_tables(paths: Sequence[str | os.PathLike], out: str | os.PathLike) -> pd.DataFrame:
    """Concatenate CSV tables of one layout into ``out`` (empty tables contribute no rows)."""
    frames = [read_table(p) for p in paths]
    table = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    write_table(table, out)
    return table


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Concatenate CSV tables of one layout.")
    parser.add_argument("--out", required=True, help="output CSV")
    parser.add_argument("paths", nargs="+", help="input CSVs")
    args = parser.parse_args(argv)
    concat_tables(args.paths, args.out)


if __name__ == "__main__":
    from signgeom.cli import run_cli

    raise SystemExit(run_cli(main))
