"""Where the checkout's Snakemake workflow lives, and the command line that runs it.

Used by the regression refresh, the benchmarks and the tests, so that they all run the workflow
the same way: ``python -m snakemake -s <repo>/Snakefile -d <workdir> ...``.

The workflow (``Snakefile``, rules, presets, references) is not part of the installed package;
it lives in a checkout. :func:`checkout` finds one. ``REPO``, ``SNAKEFILE`` and
``QUICK_PRESET`` are worked out from it when first read, so importing this module (or any
module of the library) never needs a checkout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _is_checkout(path: Path) -> bool:
    return (path / "Snakefile").is_file() and (path / "workflow" / "rules").is_dir()


def checkout(start: str | Path | None = None) -> Path:
    """The signgeom checkout: the source tree this package was imported from (an editable
    install or ``PYTHONPATH=src``), else the nearest directory at or above ``start`` (default:
    the working directory) holding a ``Snakefile`` and ``workflow/rules/``."""
    source_tree = Path(__file__).resolve().parents[2]
    here = Path(start if start is not None else Path.cwd()).resolve()
    for candidate in (source_tree, here, *here.parents):
        if _is_checkout(candidate):
            return candidate
    raise FileNotFoundError(
        f"no signgeom checkout found: neither {source_tree} (where signgeom is installed) nor "
        f"{here} or a directory above it holds a Snakefile and workflow/rules/; run from "
        "inside a checkout of the repository"
    )


def base_dir(given: str | Path | None = None) -> Path:
    """Where a configured relative data path is read from: ``given``, else the checkout
    (:func:`checkout`), else the working directory; so a relative path in the config means the
    same wherever the workflow runs."""
    if given is not None:
        return Path(given)
    try:
        return checkout()
    except FileNotFoundError:
        return Path()


# Top-level directories of the working directory that the workflow's jobs write into.
OUTPUT_ROOTS = ("results", "figures", "logs", "benchmarks", "data")


def dangling_output_links(workdir: str | Path, roots: tuple[str, ...] = OUTPUT_ROOTS) -> list[str]:
    """One message per output root in ``workdir`` that is a symbolic link to nothing (a job
    would fail with a bare ``FileNotFoundError`` for a path below it)."""
    messages = []
    for name in roots:
        link = Path(workdir) / name
        if link.is_symlink() and not link.exists():
            messages.append(
                f"{link} is a symbolic link to {os.readlink(link)}, which does not exist: "
                f"create that directory, or remove the link to write {name}/ here"
            )
    return messages


def __getattr__(name: str) -> Path:
    """``REPO``, ``SNAKEFILE``, ``QUICK_PRESET``: paths in :func:`checkout`, found on use."""
    relative = {"REPO": ".", "SNAKEFILE": "Snakefile", "QUICK_PRESET": "presets/quick.yaml"}
    if name not in relative:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return (checkout() / relative[name]).resolve()


def snakemake_command(workdir: str | Path, *args: str | Path) -> list[str]:
    """``snakemake`` on the checkout's Snakefile with ``workdir`` as working directory."""
    snakefile = checkout() / "Snakefile"
    return [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(workdir)] + [
        str(a) for a in args
    ]
