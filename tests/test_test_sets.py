"""The README's test command runs no SLURM test unless asked (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from slurm_opt_in import slurm_requested  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_slurm_is_requested_only_by_its_variables():
    assert not slurm_requested({})
    assert not slurm_requested({"SIGNGEOM_SLURM": "0", "SIGNGEOM_REQUIRE_SLURM": ""})
    assert slurm_requested({"SIGNGEOM_SLURM": "1"})
    assert slurm_requested({"SIGNGEOM_REQUIRE_SLURM": "true"})
    assert slurm_requested({"SIGNGEOM_SLURM": " Yes "})


def test_plain_pytest_skips_every_slurm_test_without_starting_a_cluster():
    env = {
        k: v for k, v in os.environ.items() if k not in ("SIGNGEOM_SLURM", "SIGNGEOM_REQUIRE_SLURM")
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "tests/slurm"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--co", "tests/slurm"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    n = sum(1 for line in collected.splitlines() if "::" in line)
    assert n > 0 and f"{n} skipped" in out and "passed" not in out, out[-3000:]
    assert "SIGNGEOM_SLURM=1" in out
