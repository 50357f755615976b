"""The package's layering (``[tool.importlinter]`` in pyproject.toml) holds: the protocol's
stages import only downwards (config > plan > plotting > analysis > estimate > training >
tasks), the claims engine knows no task or estimator, the shared base imports no stage, and the
tasks are independent of each other."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from signgeom.workflow import REPO


def _lint_imports(config: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    return subprocess.run(
        [exe, "--config", str(config), "--no-cache"], capture_output=True, text=True, cwd=REPO
    )


def test_every_import_contract_is_kept():
    result = _lint_imports(REPO / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "contract",
    [
        # a stage importing one above it (training reading the claims)
        'type = "forbidden"\nsource_modules = ["signgeom.analysis.figure3_claims"]\n'
        'forbidden_modules = ["signgeom.analysis.claims"]',
    ],
)
def test_a_broken_contract_fails_the_check(tmp_path, contract):
    """The checker is live: a contract the code breaks (Figure 3's claims do use the engine)
    makes it exit non-zero and name the import."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "signgeom"\n\n'
        f'[[tool.importlinter.contracts]]\nname = "made to break"\n{contract}\n'
    )
    result = _lint_imports(config)
    assert result.returncode != 0
    assert "signgeom.analysis.figure3_claims -> signgeom.analysis.claims" in result.stdout
