"""Shared fixtures: the quick preset, run once per test session and reused by every test that
inspects its outputs (workflow checks, regression references, the SLURM comparison).

Markers (pyproject.toml) are also applied here, so a forgotten decorator cannot put a slow test
into the fast set (``python -m pytest -m "not slow and not slurm"``): every test that uses the
``quick_workflow`` fixture is ``slow``, every test under ``tests/slurm/`` is ``slurm``.

The SLURM tests run only when asked (``SIGNGEOM_SLURM=1``, or ``SIGNGEOM_REQUIRE_SLURM=1``, which
CI sets so that they fail instead of skipping): they need root and install slurm-wlm and munge
with apt-get. Otherwise they are skipped with that reason, so ``python -m pytest`` runs every
test that needs no root and no system package."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from slurm_opt_in import slurm_requested  # noqa: E402
from workflow_helpers import QUICK, snakemake  # noqa: E402

SLURM_DIR = Path(__file__).parent / "slurm"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config() -> dict:
    """A fresh copy of the repository's config.yaml (tests may edit it)."""
    return yaml.safe_load((REPO / "config.yaml").read_text())


def pytest_collection_modifyitems(config, items):
    skip_slurm = pytest.mark.skip(
        reason="SLURM tests run only when asked: SIGNGEOM_SLURM=1 (root; apt-get installs "
        "slurm-wlm and munge and starts a local cluster)"
    )
    run_slurm = slurm_requested()
    for item in items:
        if "quick_workflow" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
        if SLURM_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.slurm)
            if not run_slurm:
                item.add_marker(skip_slurm)


@pytest.fixture(scope="session")
def quick_workflow(tmp_path_factory) -> Path:
    """Working directory of one complete local run of ``presets/quick.yaml``."""
    workdir = tmp_path_factory.mktemp("quick")
    result = snakemake(workdir, "--configfile", str(QUICK), "--cores", "2")
    if result.returncode != 0:
        pytest.fail(f"quick preset failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return workdir
