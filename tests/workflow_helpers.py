"""Running the Snakemake workflow of this repository from tests, in a temporary directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from signgeom.config import load_config_files, merged_config
from signgeom.training.run_settings import TrainSettings
from signgeom.workflow import QUICK_PRESET, REPO, SNAKEFILE, snakemake_command

__all__ = [
    "QUICK",
    "SNAKEFILE",
    "TINY_QUADRATIC",
    "quick_config",
    "quick_run",
    "snakemake",
    "write_config",
]
QUICK = QUICK_PRESET


def snakemake(workdir: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """``snakemake -s REPO/Snakefile -d workdir ARGS`` with captured output."""
    cmd = snakemake_command(workdir, *args)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def quick_config(override: dict | None = None) -> dict:
    """The quick preset's config (``config.yaml`` under ``presets/quick.yaml``), with the
    config ``override`` on top, if given."""
    return merged_config(load_config_files(REPO / "config.yaml", QUICK), override or {})


def quick_run(
    model: str, optimizer: str, lr: float, seed: int = 0, override: dict | None = None
) -> str:
    """The run key ``<model>/<optimizer>/<name>`` (``signgeom.training.runid.run_key``) of a
    quick-preset run (with the config ``override`` on top, if given): its directory is
    ``results/cifar/runs/<key>`` and its log ``logs/cifar/train/<key>.log``."""
    config = quick_config(override)
    settings = TrainSettings.from_config(config, model=model, optimizer=optimizer, lr=lr, seed=seed)
    return settings.run_key()


def write_config(path: Path, overrides: dict) -> Path:
    path.write_text(yaml.safe_dump(overrides))
    return path


TINY_QUADRATIC = {
    "quadratic": {
        "dim": 5,
        "families": ["one_outlier"],
        "theta": {"min": 0.0, "max": 0.5, "num": 3},
        "lambda_ratio": {"min": 1.0, "max": 4.0, "num": 3},
        "rotations": 2,
        "starts": 4,
        "steps": 20,
        "aggregate": "ratio_of_means",
        "max_exact_dim": 20,
    }
}
