"""A UTF-8 text file as next-character prediction data.

The text (any UTF-8 file: the shipped ``data/pydoc-prose/pydoc-prose.txt`` or a
tinyshakespeare-style ``input.txt``) is split by position: the first ``1 - val_fraction`` of the
characters train, the rest validate. The vocabulary is the sorted distinct characters of the
whole file, so both splits encode. Each split is cut into non-overlapping windows of
``context + 1`` characters starting at multiples of ``context``: example ``i`` is
``x_i = ids[i T : i T + T]`` and ``y_i = ids[i T + 1 : i T + T + 1]`` (``T = context``), so
every character but the split's first is a target exactly once.

A ``SHA256SUMS`` file beside the text (``sha256sum`` format) that lists it is checked on load.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from signgeom.cli import run_cli
from signgeom.workflow import base_dir

VAL_FRACTION = 0.1
"""Share of the characters, at the end of the file, that validate."""


class CorpusError(ValueError):
    """The text file is missing, not UTF-8, too short, or does not match its SHA-256."""


def sha256_of(path: Path | str) -> str:
    """Hex SHA-256 of the file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def listed_sha256(path: Path) -> str | None:
    """The SHA-256 that ``SHA256SUMS`` beside ``path`` lists for it (None: no such entry)."""
    sums = path.parent / "SHA256SUMS"
    if not sums.is_file():
        return None
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        if name.strip() == path.name:
            return digest.strip()
    return None


def read_text(path: Path | str) -> str:
    """The file's text, checked against its ``SHA256SUMS`` entry if there is one."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"text file {path} does not exist")
    expected = listed_sha256(path)
    if expected is not None and (actual := sha256_of(path)) != expected:
        raise CorpusError(
            f"{path} has SHA-256 {actual}, but {path.parent / 'SHA256SUMS'} lists {expected}: "
            "restore the file (git checkout) or remake it and its SHA256SUMS"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CorpusError(f"{path} is not UTF-8 text ({err})") from None


@dataclass(frozen=True)
class Vocabulary:
    """The sorted distinct characters; a character's id is its index."""

    chars: str

    @classmethod
    def of(cls, text: str) -> Vocabulary:
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """int64 ids of ``text`` (``CorpusError`` naming a character outside the vocabulary)."""
        index = {c: i for i, c in enumerate(self.chars)}
        try:
            return torch.tensor([index[c] for c in text], dtype=torch.int64)
        except KeyError as err:
            raise CorpusError(f"character {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: torch.Tensor) -> str:
        return "".join(self.chars[int(i)] for i in ids.reshape(-1))


def split_by_position(text: str, val_fraction: float = VAL_FRACTION) -> tuple[str, str]:
    """(train, validation): the first ``floor((1 - val_fraction) n)`` characters, the rest."""
    if not 0 < val_fraction < 1:
        raise CorpusError(f"val_fraction must be in (0, 1), got {val_fraction}")
    cut = int((1 - val_fraction) * len(text))
    return text[:cut], text[cut:]


def windows(ids: torch.Tensor, context: int, limit: int | None = None):
    """(x, y), each (N, context): the first ``limit`` (None: all) non-overlapping windows."""
    n = (ids.numel() - 1) // context
    if limit is not None:
        n = min(n, limit)
    starts = torch.arange(n) * context
    offsets = torch.arange(context)
    x = ids[starts[:, None] + offsets]
    return x, ids[starts[:, None] + offsets + 1]


@dataclass
class CharData:
    """Windows of both splits (int64, (N, context)) on the target device, and the vocabulary."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    vocabulary: Vocabulary


def load_corpus(
    path: Path | str,
    context: int,
    device: torch.device | str = "cpu",
    train_limit: int | None = None,
    test_limit: int | None = None,
    val_fraction: float = VAL_FRACTION,
) -> CharData:
    """The windows of ``path``'s two splits (the first ``train_limit`` / ``test_limit``)."""
    text = read_text(path)
    vocab = Vocabulary.of(text)
    train, val = split_by_position(text, val_fraction)
    if len(train) <= context:
        raise CorpusError(
            f"{path}: the training split has {len(train)} characters, fewer than one window "
            f"of context {context} + 1"
        )
    tx, ty = windows(vocab.encode(train), context, train_limit)
    vx, vy = windows(vocab.encode(val), context, test_limit)
    tensors = [t.to(device) for t in (tx, ty, vx, vy)]
    return CharData(*tensors, vocabulary=vocab)


def copy_corpus(source: Path | str, dest: Path | str) -> Path:
    """Copy the text file ``source`` (checked as :func:`read_text` checks it) to ``dest``, with
    a ``SHA256SUMS`` beside it listing the copy, written to a temporary name and then renamed
    (an interrupted copy leaves no ``dest``)."""
    source, dest = Path(source), Path(dest)
    read_text(source)
    data = source.read_bytes()
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    (dest.parent / "SHA256SUMS").write_text(f"{digest}  {dest.name}\n")
    partial = dest.with_name(dest.name + ".partial")
    partial.write_bytes(data)
    partial.replace(dest)
    return dest


def main(argv: list[str] | None = None) -> None:
    """CLI: copy the corpus into the working directory (the charlm models' data input). A
    relative ``--source`` is read from the checkout (:func:`signgeom.workflow.base_dir`), so a
    configured relative path means the same wherever the workflow runs."""
    parser = argparse.ArgumentParser(description=copy_corpus.__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="the UTF-8 text file")
    parser.add_argument("--dest", type=Path, required=True, help="where the copy goes")
    args = parser.parse_args(argv)
    print(copy_corpus(base_dir() / args.source, args.dest))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
