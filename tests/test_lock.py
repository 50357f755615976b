"""The lock (requirements/lock.txt) and the conda env agree with pyproject.toml and each other."""

import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from signgeom.workflow import REPO

PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)$")


def pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        name = canonicalize_name(match[1])
        assert name not in out, f"{name} pinned twice"
        out[name] = match[2]
    return out


@pytest.fixture(scope="module")
def project():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


@pytest.fixture(scope="module")
def lock():
    return pins((REPO / "requirements" / "lock.txt").read_text().splitlines())


def test_lock_pins_every_requirement_within_its_range(project, lock):
    groups = project.get("optional-dependencies", {}).values()
    for text in project["dependencies"] + [r for group in groups for r in group]:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in lock, f"{req.name} is not in requirements/lock.txt: run tools/lock.py"
        assert req.specifier.contains(lock[name], prereleases=True), (
            f"lock pins {name}=={lock[name]}, outside pyproject's {req}"
        )
    assert canonicalize_name(project["name"]) not in lock


def test_conda_env_pins_the_lock_versions_of_the_runtime_dependencies(project, lock):
    env = yaml.safe_load((REPO / "workflow" / "envs" / "signgeom.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = pins(pip)
    assert conda_pins, "the conda env pins nothing"
    for name, version in conda_pins.items():
        assert lock.get(name) == version, f"conda env pins {name}=={version}, lock {lock.get(name)}"
    for text in project["dependencies"]:
        name = canonicalize_name(Requirement(text).name)
        assert name in conda_pins or name.startswith("snakemake"), f"{name} missing from env"
