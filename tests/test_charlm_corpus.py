"""The shipped text corpus (hash, split, vocabulary) and the loader of any UTF-8 file."""

from __future__ import annotations

import platform
import shutil
import sys
from pathlib import Path

import pytest
import torch

from signgeom.tasks.charlm.corpus import (
    VAL_FRACTION,
    CorpusError,
    Vocabulary,
    copy_corpus,
    listed_sha256,
    load_corpus,
    read_text,
    sha256_of,
    split_by_position,
    windows,
)
from signgeom.tasks.charlm.corpus import main as corpus_main

REPO = Path(__file__).resolve().parents[1]
PROSE = REPO / "data/pydoc-prose/pydoc-prose.txt"


def test_shipped_file_matches_its_sha256():
    assert listed_sha256(PROSE) == sha256_of(PROSE)
    assert len(listed_sha256(PROSE)) == 64


def test_a_changed_copy_is_refused_naming_the_file(tmp_path):
    shutil.copy(PROSE.parent / "SHA256SUMS", tmp_path / "SHA256SUMS")
    copy = tmp_path / PROSE.name
    copy.write_bytes(PROSE.read_bytes() + b" ")
    with pytest.raises(CorpusError, match="pydoc-prose.txt has SHA-256"):
        read_text(copy)


@pytest.mark.skipif(
    platform.python_version() != "3.11.7", reason="the corpus was extracted from Python 3.11.7"
)
def test_extraction_tool_reproduces_the_shipped_file():
    sys.path.insert(0, str(REPO / "tools"))
    try:
        from extract_pydoc_prose import extract
    finally:
        sys.path.remove(str(REPO / "tools"))
    assert extract().encode("utf-8") == PROSE.read_bytes()


def test_shipped_corpus_size_and_vocabulary():
    text = read_text(PROSE)
    vocab = Vocabulary.of(text)
    assert 450_000 < len(text) < 480_000  # "about 465k characters of documentation prose"
    assert len(vocab) == len(set(text)) == 103
    assert list(vocab.chars) == sorted(set(vocab.chars))
    assert vocab.decode(vocab.encode(text[:5000])) == text[:5000]


def test_split_is_by_position():
    text = "".join(chr(ord("a") + i % 26) for i in range(1003))
    train, val = split_by_position(text, 0.1)
    assert train + val == text
    assert len(train) == int(0.9 * 1003) == 902
    with pytest.raises(CorpusError, match="val_fraction"):
        split_by_position(text, 1.0)


def test_windows_shift_by_one_and_tile_the_ids():
    ids = torch.arange(23)
    x, y = windows(ids, context=5)
    assert x.shape == y.shape == ((23 - 1) // 5, 5)
    assert torch.equal(y, x + 1)
    assert torch.equal(x.reshape(-1), ids[: x.numel()])  # non-overlapping, in order
    assert windows(ids, 5, limit=2)[0].shape == (2, 5)


def test_any_utf8_file_loads_through_the_same_path(tmp_path):
    text = "Wer reitet so spät durch Nacht und Wind? " * 40
    path = tmp_path / "input.txt"
    path.write_text(text, encoding="utf-8")
    data = load_corpus(path, context=16)
    vocab = data.vocabulary
    assert vocab == Vocabulary.of(text)
    train, val = split_by_position(text, VAL_FRACTION)
    assert vocab.decode(data.train_x[0]) == train[:16]
    assert vocab.decode(data.train_y[0]) == train[1:17]
    assert vocab.decode(data.test_x[0]) == val[:16]
    assert data.train_x.shape[0] == (len(train) - 1) // 16
    assert data.test_x.shape[0] == (len(val) - 1) // 16


def test_shipped_corpus_splits_into_training_and_validation_windows():
    data = load_corpus(PROSE, context=64, train_limit=10, test_limit=3)
    text = read_text(PROSE)
    train, val = split_by_position(text)
    assert data.train_x.shape == (10, 64) and data.test_x.shape == (3, 64)
    assert data.vocabulary.decode(data.test_x[0]) == val[:64]
    assert data.vocabulary.decode(data.train_x[9]) == train[9 * 64 : 10 * 64]


def test_bad_files_are_refused_naming_them(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        read_text(tmp_path / "missing.txt")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("spät".encode("latin-1"))
    with pytest.raises(CorpusError, match="latin1.txt is not UTF-8"):
        read_text(latin1)
    short = tmp_path / "short.txt"
    short.write_text("abc")
    with pytest.raises(CorpusError, match="fewer than one window"):
        load_corpus(short, context=8)


def test_the_workflow_copy_is_byte_identical_and_listed(tmp_path, monkeypatch, capsys):
    """The data job's copy (``--source`` relative to the checkout, from any working directory)
    equals the shipped file and its SHA256SUMS lists it, so loading the copy is checked too."""
    monkeypatch.chdir(tmp_path)
    corpus_main(["--source", "data/pydoc-prose/pydoc-prose.txt", "--dest", "data/charlm/c.txt"])
    copy = tmp_path / "data/charlm/c.txt"
    assert capsys.readouterr().out.strip() == "data/charlm/c.txt"
    assert copy.read_bytes() == PROSE.read_bytes()
    assert listed_sha256(copy) == sha256_of(PROSE)
    assert not list(copy.parent.glob("*.partial"))
    copy.write_bytes(copy.read_bytes()[:-1])
    with pytest.raises(CorpusError, match="c.txt has SHA-256"):
        read_text(copy)


def test_a_changed_source_is_not_copied(tmp_path):
    shutil.copy(PROSE.parent / "SHA256SUMS", tmp_path / "SHA256SUMS")
    changed = tmp_path / PROSE.name
    changed.write_bytes(PROSE.read_bytes() + b" ")
    with pytest.raises(CorpusError, match="has SHA-256"):
        copy_corpus(changed, tmp_path / "out/corpus.txt")
    assert not (tmp_path / "out").exists()
