"""Provenance records (signgeom.provenance) and the ones the quick preset writes."""

import json
import subprocess

import pytest

from signgeom.provenance import UNKNOWN, collect, git_state, package_versions, write_provenance

CONFIG = {"seed": 7, "cifar": {"seeds": [7, 8]}, "quadratic": {"dim": 12, "theta": (0.0, 0.5)}}


def test_package_versions_cover_the_stack():
    versions = package_versions()
    for name in ("python", "torch", "torchvision", "numpy", "scipy", "pandas", "snakemake"):
        assert versions[name] not in ("", None, UNKNOWN)
    assert package_versions(["no-such-package-xyz"])["no-such-package-xyz"] == UNKNOWN


def test_git_state_outside_a_checkout_is_unknown(tmp_path):
    state = git_state(tmp_path)
    assert (state["commit"], state["dirty"]) == (UNKNOWN, None)
    assert str(tmp_path) in state["reason"]


def _git(where, *args) -> str:
    done = subprocess.run(["git", "-C", str(where), *args], check=True, capture_output=True)
    return done.stdout.decode().strip()


def _commit_all(where) -> str:
    _git(where, "add", "-A")
    _git(where, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    return _git(where, "rev-parse", "HEAD")


def test_a_tree_copied_inside_another_repository_records_no_commit(tmp_path):
    """git climbs from the copy to the enclosing repository; its commit is not the tree's."""
    outer = tmp_path / "outer"
    tree = outer / "vendored" / "signgeom"
    tree.mkdir(parents=True)
    _git(outer, "init", "-q")
    (tree / "Snakefile").write_text("# the exported tree\n")
    _commit_all(outer)
    state = git_state(tree)
    assert (state["commit"], state["dirty"]) == (UNKNOWN, None)
    assert str(tree) in state["reason"] and str(outer.resolve()) in state["reason"]
    assert collect({}, tree)["git"]["commit"] == UNKNOWN
    assert git_state(outer)["commit"] == _git(outer, "rev-parse", "HEAD")  # its own top level


def test_git_state_of_a_checkout(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    (tmp_path / "untracked.txt").write_text("ignored")
    assert git_state(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "a.txt").write_text("2")
    assert git_state(tmp_path) == {"commit": head, "dirty": True}


def test_record_holds_config_seed_versions_and_hashes(tmp_path):
    data = tmp_path / "table.csv"
    data.write_text("a,b\n1,2\n")
    out = tmp_path / "sub" / "provenance.json"
    log = tmp_path / "log" / "p.log"
    record = write_provenance(out, CONFIG, tmp_path, [data], ["presets/quick.yaml"], log)
    assert json.loads(out.read_text()) == record
    assert record["config"] == {**CONFIG, "quadratic": {"dim": 12, "theta": [0.0, 0.5]}}
    assert record["seed"] == 7 and record["cifar_seeds"] == [7, 8]
    assert record["configfiles"] == ["presets/quick.yaml"]
    assert record["describes"] == {
        str(data): {"sha256": "492d5ea496056f1a6a6592241032fab764c321596317930b4fa0e1e8bc3b7470"}
    }
    assert record["git"]["commit"] == UNKNOWN
    assert {"hostname", "timestamp", "versions"} <= set(record)
    assert "wrote" in log.read_text()


def test_record_of_missing_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        collect(CONFIG, tmp_path, [tmp_path / "missing.csv"])


@pytest.mark.slow
def test_quick_preset_writes_provenance_next_to_every_output(quick_workflow):
    for where, described in (
        ("results/quadratic", "results/quadratic/summary.csv"),
        ("results/cifar", "results/cifar/smoothness.csv"),
        ("figures", "figures/figure3.png"),
    ):
        record = json.loads((quick_workflow / where / "provenance.json").read_text())
        assert described in record["describes"]
        assert record["config"]["cifar"]["models"]["cnn"]["epochs"] == 3  # the preset's value
        assert record["config"]["quadratic"]["dim"] == 12  # a default the preset keeps
        assert record["seed"] == record["config"]["seed"]
        assert len(record["git"]["commit"]) == 40 or record["git"]["commit"] == UNKNOWN
        assert record["versions"]["torch"].startswith("2.")
        assert any(p.endswith("presets/quick.yaml") for p in record["configfiles"])
