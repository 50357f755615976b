"""Where this checkout's Snakemake workflow lives, and the command line that runs it.

Used by the regression refresh, the benchmarks and the tests, so that they all run the workflow
the same way: ``python -m snakemake -s <repo>/Snakefile -d <workdir> ...``.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"
QUICK_PRESET = REPO / "presets" / "quick.yaml"


def snakemake_command(workdir: str | Path, *args: str | Path) -> list[str]:
    """``snakemake`` on this repository's Snakefile with ``workdir`` as working directory."""
    return [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(workdir)] + [
        str(a) for a in args
    ]
