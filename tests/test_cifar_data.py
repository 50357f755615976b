"""CIFAR-10 loader tests on the bundled official-format subset."""

import pickle
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets import utils as tv_utils

import signgeom.workflow
from signgeom.cli import run_cli
from signgeom.tasks.cifar import data
from signgeom.tasks.cifar.data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    REQUIRED_FILES,
    CifarDataError,
    load_cifar10,
    load_split,
    normalize,
    prepare_cifar10,
    verify_batches_dir,
)

SUBSET = Path(__file__).resolve().parents[1] / "data" / "cifar10-subset" / "cifar-10-batches-py"


@pytest.fixture
def subset_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SUBSET, tmp_path / "src" / "cifar-10-batches-py"))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_bundled_subset_counts_labels_and_layout():
    assert verify_batches_dir(SUBSET) == SUBSET
    x_test, y_test = load_split(SUBSET, "test")
    assert x_test.shape == (1017, 3, 32, 32) and x_test.dtype == torch.uint8
    assert y_test.dtype == torch.int64
    assert y_test[:5].tolist() == [3, 8, 8, 0, 6]  # cat, ship, ship, airplane, frog
    x_train, y_train = load_split(SUBSET, "train")
    assert x_train.shape == (5170, 3, 32, 32) and y_train.shape == (5170,)
    raw = pickle.loads((SUBSET / "test_batch").read_bytes(), encoding="bytes")[b"data"]
    # channel c, row i, column j lives at c * 1024 + i * 32 + j
    assert x_test[7, 2, 5, 9] == raw[7, 2 * 1024 + 5 * 32 + 9]
    assert x_test[7, 0, 31, 0] == raw[7, 31 * 32]


def test_limit_takes_first_images_across_batches():
    x_all, y_all = load_split(SUBSET, "train")
    x, y = load_split(SUBSET, "train", limit=1200)  # data_batch_1 holds 1102 images
    assert torch.equal(x, x_all[:1200]) and torch.equal(y, y_all[:1200])
    assert load_split(SUBSET, "test", limit=0)[0].shape == (0, 3, 32, 32)


def test_limit_reads_only_needed_files(subset_copy):
    for i in range(2, 6):
        (subset_copy / f"data_batch_{i}").unlink()
    x, y = load_split(subset_copy, "train", limit=100)
    assert x.shape == (100, 3, 32, 32) and y.shape == (100,)


def test_normalize_constant_image_closed_form():
    img = torch.full((2, 3, 32, 32), 51, dtype=torch.uint8)  # 51 / 255 = 0.2
    out = normalize(img)
    assert out.dtype == torch.float32
    for c in range(3):
        expected = (0.2 - CIFAR10_MEAN[c]) / CIFAR10_STD[c]
        torch.testing.assert_close(out[:, c], torch.full((2, 32, 32), expected))


def test_load_cifar10_normalized_tensors():
    t = load_cifar10(SUBSET, train_limit=64, test_limit=32)
    assert t.train_x.shape == (64, 3, 32, 32) and t.test_x.shape == (32, 3, 32, 32)
    assert t.train_x.dtype == torch.float32 and t.train_y.dtype == torch.int64
    torch.testing.assert_close(t.test_x, normalize(load_split(SUBSET, "test", 32)[0]))
    assert t.test_y[:5].tolist() == [3, 8, 8, 0, 6]


def test_truncated_batch_is_named(subset_copy):
    _truncate(subset_copy / "data_batch_2")
    with pytest.raises(CifarDataError, match="data_batch_2.*truncated or corrupted"):
        verify_batches_dir(subset_copy)


def test_missing_file_is_named(subset_copy):
    (subset_copy / "batches.meta").unlink()
    with pytest.raises(CifarDataError, match="batches.meta is missing"):
        verify_batches_dir(subset_copy)


def test_bad_labels_are_rejected(subset_copy):
    batch = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [1, 9, 12, -1]}
    (subset_copy / "data_batch_4").write_bytes(pickle.dumps(batch))
    message = r"data_batch_4 .* has 2 labels outside 0..9; the first is 12 at position 2"
    with pytest.raises(CifarDataError, match=message):
        verify_batches_dir(subset_copy)


@pytest.mark.parametrize("nested", [True, False])
def test_prepare_local_copies_and_verifies(tmp_path, nested):
    src = SUBSET.parent if nested else SUBSET
    dest = prepare_cifar10(tmp_path / "dest", "local", src)
    assert dest == tmp_path / "dest" / "cifar-10-batches-py"
    assert sorted(p.name for p in dest.iterdir()) == sorted(REQUIRED_FILES)
    assert (dest / "test_batch").read_bytes() == (SUBSET / "test_batch").read_bytes()
    assert [p.name for p in (tmp_path / "dest").iterdir()] == ["cifar-10-batches-py"]
    assert prepare_cifar10(tmp_path / "dest", "local", src) == dest  # idempotent


def test_prepare_local_bad_source_leaves_nothing(tmp_path, subset_copy):
    _truncate(subset_copy / "data_batch_2")
    with pytest.raises(CifarDataError, match="data_batch_2"):
        prepare_cifar10(tmp_path / "dest", "local", subset_copy.parent)
    assert not (tmp_path / "dest" / "cifar-10-batches-py").exists()


def test_prepare_local_missing_dir_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(CifarDataError, match=str(missing)):
        prepare_cifar10(tmp_path / "dest", "local", missing)


def test_download_without_network(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", offline)
    with pytest.raises(CifarDataError, match=r"cifar\.data\.source: local.*local_dir"):
        prepare_cifar10(tmp_path / "dest", "download")
    assert list((tmp_path / "dest").iterdir()) == []


def test_download_corrupt_archive_is_not_published(tmp_path, monkeypatch):
    def fake_download(url, download_root, md5=None, **kwargs):
        assert url == data.URL and md5 == "c58f30108f718f92721af3b95e74349a"
        out = Path(shutil.copytree(SUBSET, Path(download_root) / "cifar-10-batches-py"))
        _truncate(out / "data_batch_3")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download)
    with pytest.raises(CifarDataError, match="data_batch_3"):
        prepare_cifar10(tmp_path / "dest", "download")
    assert list((tmp_path / "dest").iterdir()) == []


def test_cli(tmp_path, capsys):
    assert (
        run_cli(
            data.main,
            ["--dest", str(tmp_path / "d"), "--source", "local", "--local-dir", str(SUBSET.parent)],
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == str(tmp_path / "d" / "cifar-10-batches-py")
    assert (
        run_cli(
            data.main,
            [
                "--dest",
                str(tmp_path / "e"),
                "--source",
                "local",
                "--local-dir",
                str(tmp_path / "missing"),
            ],
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing" in err and "Traceback" not in err


class _RunsCode:
    """Unpickling this calls ``os.system`` (what a crafted batch file can do to plain pickle)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("where", ["data_batch_1", "batches.meta"])
def test_a_batch_file_that_runs_code_is_refused_and_nothing_is_published(
    tmp_path, subset_copy, where
):
    marker = tmp_path / "marker"
    (subset_copy / where).write_bytes(pickle.dumps({b"data": _RunsCode(marker), b"labels": []}))
    with pytest.raises(CifarDataError, match=rf"{where} in {subset_copy}.*refused global"):
        prepare_cifar10(tmp_path / "dest", "local", subset_copy)
    assert not marker.exists()
    assert not (tmp_path / "dest" / "cifar-10-batches-py").exists()
    if where.startswith("data_batch"):
        with pytest.raises(CifarDataError, match=where):
            load_split(subset_copy, "train")  # the training jobs' reader is the same
        assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_numpy_arrays_of_any_protocol_are_admitted(subset_copy, protocol):
    data_ = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    batch = {b"data": data_, b"labels": [1, 9]}
    (subset_copy / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=protocol))
    x, y = load_split(subset_copy, "train", limit=2)
    assert torch.equal(x.reshape(2, 3072), torch.from_numpy(data_)) and y.tolist() == [1, 9]


def test_a_bad_source_copy_is_not_to_be_deleted(tmp_path, subset_copy):
    _truncate(subset_copy / "test_batch")
    with pytest.raises(CifarDataError) as err:
        prepare_cifar10(tmp_path / "dest", "local", subset_copy)
    msg = str(err.value)
    assert "your source copy" in msg and "Delete" not in msg and str(subset_copy) in msg


def test_a_bad_pipeline_copy_says_delete_it(tmp_path, subset_copy):
    dest = prepare_cifar10(tmp_path / "dest", "local", subset_copy)
    _truncate(dest / "test_batch")
    with pytest.raises(CifarDataError, match=rf"test_batch.*Delete {dest} and rerun"):
        prepare_cifar10(tmp_path / "dest", "local", subset_copy)


def test_cli_relative_local_dir_is_relative_to_the_base_dir_else_the_checkout(
    tmp_path, monkeypatch, capsys
):
    repo = SUBSET.parents[2]
    relative = ["--source", "local", "--local-dir", "data/cifar10-subset"]
    monkeypatch.chdir(tmp_path)  # the workflow's working directory is anywhere
    assert run_cli(data.main, ["--dest", "d", *relative, "--base-dir", str(repo)]) == 0
    assert (tmp_path / "d/cifar-10-batches-py/test_batch").read_bytes() == (
        SUBSET / "test_batch"
    ).read_bytes()
    base = ["--base-dir", str(tmp_path)]  # tmp_path/data/...: absent
    assert run_cli(data.main, ["--dest", "e", *relative, *base]) == 2
    assert "data/cifar10-subset does not exist" in capsys.readouterr().err
    # no --base-dir (as the workflow runs it): the checkout this package is imported from
    assert run_cli(data.main, ["--dest", str(tmp_path / "f"), *relative]) == 0
    assert (tmp_path / "f/cifar-10-batches-py/batches.meta").is_file()


def test_an_existing_copy_is_kept_when_the_configured_source_is_mistyped(tmp_path):
    """The source is checked before the existing copy is reused: a typo fails the job, naming
    the path, and the copy stays as it was."""
    dest = prepare_cifar10(tmp_path / "dest", "local", SUBSET)
    before = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}
    typo = tmp_path / "cifar10-subsett"
    with pytest.raises(CifarDataError, match=f"local_dir {typo} does not exist"):
        prepare_cifar10(tmp_path / "dest", "local", typo)
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == before


def test_a_local_dir_is_checked_before_any_job_and_another_checkout_named(tmp_path, monkeypatch):
    here = SUBSET.parents[2]  # this checkout: data/cifar10-subset/cifar-10-batches-py
    assert data.local_source_problems("local", "data/cifar10-subset", here) == ([], [])
    assert data.local_source_problems("local", str(SUBSET), here) == ([], [])
    assert data.local_source_problems("download", "data/nowhere", here) == ([], [])
    errors, _ = data.local_source_problems("local", "data/cifar10-subsett", here)
    assert "'cifar.data.local_dir': data/cifar10-subsett (resolved against" in errors[0]
    assert str(here / "data/cifar10-subsett") in errors[0]
    other = tmp_path / "other-checkout"  # signgeom installed (editable) from another checkout
    shutil.copytree(SUBSET, other / "data/cifar10-subset/cifar-10-batches-py")
    monkeypatch.setattr(signgeom.workflow, "checkout", lambda: other)  # what base_dir reads
    errors, warnings = data.local_source_problems("local", "data/cifar10-subset", here)
    assert errors == [] and len(warnings) == 1
    assert f"against {other}" in warnings[0] and f"workflow's checkout {here}" in warnings[0]
    assert data.local_source_problems("local", str(SUBSET), here) == ([], [])  # absolute
