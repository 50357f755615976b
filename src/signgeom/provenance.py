"""Provenance records written next to the outputs: ``results/quadratic/provenance.json``,
``results/cifar/provenance.json`` and ``figures/provenance.json``.

Each record holds the resolved configuration (as the workflow sees it, after presets), the seeds,
the versions of Python and of the packages that compute the numbers, the git commit of the
repository (with a dirty flag), the host, a UTC timestamp and the SHA-256 of every file it
describes. It is written by a cheap local rule that depends only on the files it describes, so
writing it never reruns an expensive job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import socket
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from signgeom.io import atomic_output

PACKAGES = ("torch", "torchvision", "numpy", "scipy", "pandas", "snakemake", "signgeom")
UNKNOWN = "unknown"


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """``{"python": ..., package: version}``; a package that is not installed is ``unknown``."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = UNKNOWN
    return versions


def git_state(repo: str | Path) -> dict[str, Any]:
    """``{"commit": sha, "dirty": bool}`` of the checkout ``repo``.

    ``dirty`` means tracked files differ from the commit (untracked files are ignored: results
    and caches live in the tree). The commit is recorded only when ``repo`` is itself the top
    level of its git repository: a copy of the tree inside another repository (``git`` climbs
    up to it) or outside any gets ``{"commit": "unknown", "dirty": None, "reason": why}``.
    """

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip())
        return done.stdout.strip()

    def unknown(reason: str) -> dict[str, Any]:
        return {"commit": UNKNOWN, "dirty": None, "reason": reason}

    try:
        top = git("rev-parse", "--show-toplevel")
        if Path(top).resolve() != Path(repo).resolve():
            return unknown(
                f"{repo} is not the top level of a git checkout: git finds the repository at "
                f"{top}, whose commit is not this tree's"
            )
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as err:
        return unknown(f"no git commit for {repo}: {err or type(err).__name__}")
    return {"commit": commit, "dirty": dirty}


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def plain(value: Any) -> Any:
    """Snakemake's config is a dict of dicts/lists of plain values; make a JSON-able copy."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def collect(
    config: Mapping[str, Any],
    repo: str | Path,
    describes: Iterable[str | Path] = (),
    configfiles: Iterable[str | Path] = (),
) -> dict[str, Any]:
    """The provenance record of the files ``describes`` produced with ``config``."""
    config = plain(config)
    cifar = config.get("cifar") or {}
    return {
        "describes": {str(p): {"sha256": sha256(p)} for p in describes},
        "seed": config.get("seed"),
        "cifar_seeds": cifar.get("seeds"),
        "config": config,
        "configfiles": [str(p) for p in configfiles],
        "versions": package_versions(),
        "git": {"repo": str(repo), **git_state(repo)},
        "hostname": socket.gethostname(),
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def write_provenance(
    out: str | Path,
    config: Mapping[str, Any],
    repo: str | Path,
    describes: Iterable[str | Path] = (),
    configfiles: Iterable[str | Path] = (),
    log: str | Path | None = None,
) -> dict[str, Any]:
    """Write :func:`collect`'s record to ``out`` (atomically), a line to ``log``; return it."""
    record = collect(config, repo, describes, configfiles)
    with atomic_output(Path(out)) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2) + "\n")
    if log is not None:
        git = record["git"]
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        Path(log).write_text(
            f"wrote {out}: {len(record['describes'])} files described, commit {git['commit']}"
            f" (dirty: {git['dirty']})" + (f": {git['reason']}" if "reason" in git else "") + "\n"
        )
    return record
