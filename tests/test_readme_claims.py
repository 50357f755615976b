"""README's claims tables are the rendering of the committed claims files."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("readme_claims", REPO / "tools/readme_claims.py")
readme_claims = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_claims)


def test_readme_has_claims_blocks_and_they_match_the_files():
    text = (REPO / "README.md").read_text()
    blocks = list(readme_claims.BLOCK.finditer(text))
    assert blocks, "README.md has no claims block"
    assert readme_claims.main(["--check"]) == 0


def test_check_fails_when_a_claims_file_changes(tmp_path):
    text = (REPO / "README.md").read_text()
    for block in readme_claims.BLOCK.finditer(text):
        copy = tmp_path / block.group("path")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / block.group("path"), copy)
    target = tmp_path / next(readme_claims.BLOCK.finditer(text)).group("path")
    (tmp_path / "README.md").write_text(text)
    readme = str(tmp_path / "README.md")
    table = pd.read_csv(target)
    table.loc[0, "verdict"] = "holds" if table.loc[0, "verdict"] != "holds" else "fails"
    table.to_csv(target, index=False)
    assert readme_claims.main(["--check", "--readme", readme]) == 1
    readme_claims.main(["--readme", readme])  # rewriting brings it back in line
    assert readme_claims.main(["--check", "--readme", readme]) == 0
