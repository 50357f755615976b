"""The library works installed without the checkout: a wheel built from ``pyproject.toml`` and
``src/`` alone, installed into an empty target directory (no network, ``--no-deps``: the
dependencies are this environment's), imports every module, validates a config against the
schema it ships, and runs a CLI from a working directory outside the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from signgeom.quadratic.hessians import HessianGrid, build_grid

REPO = Path(__file__).resolve().parents[1]

# Run by the installed package: every module imports, the shipped schema accepts config.yaml
# and refuses a bad value naming its key, and the checkout-only paths say there is none.
CHECK = """
import importlib, pkgutil, sys
from pathlib import Path
import yaml
import signgeom
from signgeom import config, workflow

site, config_file = Path(sys.argv[1]), Path(sys.argv[2])
assert Path(signgeom.__file__).resolve().parent == site / "signgeom", signgeom.__file__
assert config.SCHEMA_PATH.resolve() == site / "signgeom" / "config.schema.yaml"
modules = [m.name for m in pkgutil.walk_packages(signgeom.__path__, "signgeom.")]
for name in modules:
    importlib.import_module(name)
settings = yaml.safe_load(config_file.read_text())
config.validate_config(settings)
settings["quadratic"]["dim"] = "twelve"
try:
    config.validate_config(settings)
    raise SystemExit("a bad quadratic.dim passed")
except config.ConfigError as err:
    assert "'quadratic.dim'" in str(err), err
try:
    raise SystemExit(f"found a checkout: {workflow.REPO}")
except FileNotFoundError as err:
    assert "no signgeom checkout found" in str(err), err
print(len(modules), "modules")
"""


def _run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def test_the_installed_wheel_works_without_the_checkout(tmp_path):
    source = tmp_path / "source"  # only what the wheel is built from: no workflow, no tests
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "src", source / "src", ignore=ignore)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", ".", "-w", "dist"],
         source)  # fmt: skip
    (wheel,) = (source / "dist").glob("signgeom-*.whl")
    site = tmp_path / "site"
    _run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], tmp_path)

    elsewhere = tmp_path / "elsewhere"  # no Snakefile here or above
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1"}
    check = [sys.executable, "-c", CHECK, str(site), str(REPO / "config.yaml")]
    assert "modules" in _run(check, elsewhere, **env).stdout

    cli = [sys.executable, "-m", "signgeom.quadratic.hessians", "--dim", "3"]
    cli += ["--family", "one_outlier", "--theta-min", "0", "--theta-max", "1", "--theta-num", "2"]
    cli += ["--ratio-min", "1.5", "--ratio-max", "2.5", "--ratio-num", "2"]
    cli += ["--rotations", "1", "--seed", "0", "--out", "h.npz"]
    _run(cli, elsewhere, **env)
    written = HessianGrid.load(elsewhere / "h.npz")  # the same grid as this checkout's code
    expected = build_grid(3, np.array([0.0, 1.0]), np.array([1.5, 2.5]), 1, 0, "one_outlier")
    np.testing.assert_array_equal(written.hessians, expected.hessians)
    np.testing.assert_array_equal(written.eigenvalues, expected.eigenvalues)
