"""Whether the SLURM tests were asked for: one home for the opt-in variables (tests/conftest.py
applies it; tests/test_test_sets.py checks it)."""

from __future__ import annotations

import os
from collections.abc import Mapping

SLURM_OPT_IN = ("SIGNGEOM_SLURM", "SIGNGEOM_REQUIRE_SLURM")


def slurm_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether either variable of ``SLURM_OPT_IN`` is set to 1/true/yes/on."""
    return any(
        environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"} for name in SLURM_OPT_IN
    )
