"""Write the lock of the verified environment: ``requirements/lock.txt`` and the conda env.

The lock is every package that ``pip install -e ".[<all extras>]"`` needs, at the version
installed in *this* environment: the requirements of ``pyproject.toml`` (dependencies and every
optional group), followed through the installed packages' own requirements (markers evaluated
here: Python 3.11, x86-64 Linux). Packages of the environment that signgeom does not need are
left out, unlike a plain ``pip freeze``. ``workflow/envs/signgeom.yaml`` gets the same versions
for what the rules import (the runtime dependencies minus Snakemake and its plugins).

    pip install -c requirements/lock.txt -e ".[test]"   # the environment to lock
    python tools/lock.py                                # rewrite both files
    python tools/lock.py --check                        # exit 1 if they are out of date
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import platform
import re
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "lock.txt"
CONDA_ENV = REPO / "workflow" / "envs" / "signgeom.yaml"
BEGIN, END = "# BEGIN LOCK (python tools/lock.py)", "# END LOCK"
NOT_IN_RULE_ENV = re.compile(r"snakemake($|-)")  # the rules run under Snakemake, not with it


def closure(roots: Iterable[str]) -> dict[str, str]:
    """``{name: installed version}`` of ``roots`` and everything they require, recursively."""
    env = default_environment()
    todo = [(Requirement(r), "") for r in roots]
    found: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker and not req.marker.evaluate({**env, "extra": extra}):
            continue
        name = canonicalize_name(req.name)
        for want in sorted(req.extras) or [""]:
            if (name, want) in seen:
                continue
            seen.add((name, want))
            try:
                dist = metadata.distribution(req.name)
            except metadata.PackageNotFoundError:
                sys.exit(f"{req.name} is required but not installed: install the project first")
            if not req.specifier.contains(dist.version, prereleases=True):
                sys.exit(f"installed {req.name} {dist.version} does not satisfy {req}")
            found[name] = dist.version
            todo += [(Requirement(r), want) for r in dist.requires or []]
    return found


def lines(pins: dict[str, str]) -> list[str]:
    return [f"{name}=={pins[name]}" for name in sorted(pins)]


def render(project: dict) -> tuple[str, str]:
    """(lock.txt, conda env file) for the current environment."""
    deps = project["dependencies"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    everything = closure(deps + extras)
    everything.pop(canonicalize_name(project["name"]), None)
    runtime = closure(r for r in deps if not NOT_IN_RULE_ENV.match(Requirement(r).name))
    py = ".".join(platform.python_version_tuple()[:2])
    lock = "\n".join(
        [
            f"# Verified environment of signgeom (Python {py}, {platform.machine()} Linux):",
            "# every package `pip install -e .[all extras]` needs, at the version tested.",
            '# Used as constraints: pip install -c requirements/lock.txt -e ".[test]"',
            "# Regenerate after a dependency change: python tools/lock.py",
            *lines(everything),
            "",
        ]
    )
    conda = CONDA_ENV.read_text()
    if BEGIN not in conda or END not in conda:
        sys.exit(f"{CONDA_ENV}: markers {BEGIN!r} ... {END!r} not found")
    head, rest = conda.split(BEGIN, 1)
    indent = head[head.rfind("\n") + 1 :]
    tail = rest.split(END, 1)[1]
    block = "".join(f"{indent}- {pin}\n" for pin in lines(runtime))
    conda = f"{head}{BEGIN}\n{block}{indent}{END}{tail}"
    return lock, conda


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, exit 1 if outdated")
    args = parser.parse_args()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    outputs = dict(zip((LOCK, CONDA_ENV), render(project), strict=True))
    stale = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(REPO)} does not match this environment: python tools/lock.py")
        return 1 if stale else 0
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
