"""Config values and config changes reach the jobs as configured: a hostile or spaced
``cifar.data.local_dir`` is one argument (no shell code runs), a raised epoch count retrains,
and a set-aside checkpoint is reported on the console."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
import yaml

from signgeom.config import SCHEMA_PATH, ConfigError, validate_config
from signgeom.tasks.cifar.data import REQUIRED_FILES
from signgeom.workflow import REPO
from workflow_helpers import snakemake, write_config

SUBSET = REPO / "data/cifar10-subset/cifar-10-batches-py"
# A directory name with the shell metacharacters that matter: separators, substitutions,
# (balanced) quotes and spaces. Unquoted, the shell runs the data rule on the directory `cifar`
# (a decoy copy, so the command succeeds) and then each `touch pwned<i>`.
HOSTILE = "cifar; touch pwned1 ;$(touch pwned2)`touch pwned3`'x' \"y\" && touch pwned4"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())


def _free_text_keys(node: dict, key: str = "") -> set[str]:
    """Dotted keys (``*``: any item or mapping key) whose value may be any string."""
    if "$ref" in node:
        node = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
    types = node.get("type", [])
    found = set()
    if "string" in (types if isinstance(types, list) else [types]):
        if "enum" not in node and "pattern" not in node:
            found.add(key.lstrip("."))
    names = node.get("propertyNames")
    if isinstance(node.get("additionalProperties"), dict) and "pattern" not in (names or {}):
        found.add(f"{key}.<key>".lstrip("."))
    for name, child in node.get("properties", {}).items():
        found |= _free_text_keys(child, f"{key}.{name}")
    for child in [node.get("items"), node.get("additionalProperties")]:
        if isinstance(child, dict):
            found |= _free_text_keys(child, f"{key}.*")
    return found


def test_every_free_text_key_is_refused_or_quoted():
    free = _free_text_keys(SCHEMA)
    assert free == {
        "cifar.data.local_dir",
        "cifar.data.corpus",
        "cifar.models.*.architecture",
        "cifar.augmentation",
        "cifar.hessian.models.*",
        "cifar.sensitivity.models.*",
        "cifar.rotation.models.*",
        "cifar.rotation.optimizers.*",
        "theory.noise.family",
        "theory.majority_vote.distributions.*",
    }
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for key, edit in (
        ("cifar.augmentation", lambda c: c["cifar"].update(augmentation=HOSTILE)),
        ("cifar.device", lambda c: c["cifar"].update(device=HOSTILE)),
        ("cifar.training.precision", lambda c: c["cifar"]["training"].update(precision=HOSTILE)),
        (
            "cifar.smoothness.precision",
            lambda c: c["cifar"]["smoothness"].update(precision=HOSTILE),
        ),
        ("cifar.hessian.precision", lambda c: c["cifar"]["hessian"].update(precision=HOSTILE)),
        ("cifar.hessian.models", lambda c: c["cifar"]["hessian"].update(models=[HOSTILE])),
        (
            "cifar.models.cnn.architecture",
            lambda c: c["cifar"]["models"]["cnn"].update(architecture=HOSTILE),
        ),
        (
            "cifar.smoothness.probe_step",
            lambda c: c["cifar"]["smoothness"].update(probe_step=HOSTILE),
        ),
        ("cifar.sensitivity.models", lambda c: c["cifar"]["sensitivity"].update(models=[HOSTILE])),
        ("cifar.rotation.models", lambda c: c["cifar"]["rotation"].update(models=[HOSTILE])),
        (
            "cifar.rotation.optimizers",
            lambda c: c["cifar"]["rotation"].update(optimizers=[HOSTILE]),
        ),
        ("theory.noise.family", lambda c: c["theory"]["noise"].update(family=HOSTILE)),
        (
            "theory.majority_vote.distributions",
            lambda c: c["theory"]["majority_vote"].update(distributions=[HOSTILE]),
        ),
    ):  # fmt: skip
        changed = yaml.safe_load(yaml.safe_dump(config))
        edit(changed)
        with pytest.raises(ConfigError, match=re.escape(f"'{key}")):  # refused, key named
            validate_config(changed)
    # cifar.data.local_dir and cifar.data.corpus are any paths: the rules pass them quoted (the
    # data rule's is the next test; the corpus is the training and estimate rules' input, `:q`).


@pytest.mark.slow
def test_a_local_dir_with_shell_metacharacters_is_one_argument(tmp_path):
    source = tmp_path / HOSTILE / "cifar-10-batches-py"
    for where in (source, tmp_path / "cifar/cifar-10-batches-py"):
        shutil.copytree(SUBSET, where)
    config = {"cifar": {"data": {"source": "local", "local_dir": str(source.parent)}}}
    workdir = tmp_path / "work dir"
    run = snakemake(
        workdir,
        "data/cifar10/cifar-10-batches-py",
        "--configfile",
        str(write_config(tmp_path / "c.yaml", config)),
        "--cores",
        "1",
    )
    pwned = [p for where in (tmp_path, REPO) for p in where.rglob("pwned*")]
    assert not pwned, f"shell code ran: {pwned}"
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    copied = workdir / "data/cifar10/cifar-10-batches-py"
    for name in REQUIRED_FILES:
        assert (copied / name).read_bytes() == (source / name).read_bytes(), name


TINY = {
    "cifar": {
        "data": {
            "source": "local",
            "local_dir": "data/cifar10-subset",
            "train_limit": 100,
            "test_limit": 50,
        },
        "device": "cpu",
        "training": {
            "precision": "fp32",
            "deterministic": True,
            "channels_last": False,
            "compile": False,
        },
        # train_every 2 and stride 1: epochs 1 -> 2 leaves the set of param values unchanged
        "evaluation": {"train_every": 2, "train_subset": None},
        "batch_size": 25,
        "smoothness": {"stride": 1},
        "hessian": {"n_examples": 16},
        "models": {
            "cnn": {
                "epochs": 1,
                "selection_epoch": 1,
                "step_sizes": {"sgd": [0.03, 0.1], "signsgd": [0.0003]},
            }
        },
    },
    "resources": {"gpu": 0, "train": {"cpus": 1, "mem_mb": 1000, "runtime_min": 10}},
}


def _with_epochs(epochs: int) -> dict:
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["cifar"]["models"]["cnn"].update(epochs=epochs, selection_epoch=epochs)
    return config


@pytest.mark.slow
def test_raising_epochs_retrains_and_a_set_aside_checkpoint_reaches_the_console(tmp_path):
    target = "results/cifar/cnn/step_sizes.csv"
    work = tmp_path / "work"

    def run(epochs: int):
        config = write_config(tmp_path / f"e{epochs}.yaml", _with_epochs(epochs))
        done = snakemake(work, target, "--configfile", str(config), "--cores", "2")
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        return done.stdout + done.stderr

    run(1)
    runs = sorted((work / "results/cifar/runs/cnn").glob("*/lr*"))
    assert len(runs) == 3
    damaged = runs[0] / "checkpoint.pt"
    damaged.write_bytes(damaged.read_bytes()[:100])
    console = run(2)
    chosen = pd.read_csv(work / target)
    assert chosen["epoch_requested"].tolist() == chosen["epoch_used"].tolist() == [2, 2]
    for path in runs:
        assert pd.read_csv(path / "metrics.csv")["epoch"].tolist() == [0, 1, 2]
    assert f"checkpoint {damaged.relative_to(work)} is unreadable" in console
    assert "set aside as" in console
