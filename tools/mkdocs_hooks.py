"""MkDocs hook: the committed reference figures (``results/reference/**/*.png``) join the site
at the same paths, so pages show them without a copy in ``docs/`` and ``--strict`` resolves
every link to them."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parents[1]
FIGURES = "results/reference/**/*.png"


def on_files(files: Files, config) -> Files:
    for path in sorted(REPO.glob(FIGURES)):
        uri = path.relative_to(REPO).as_posix()
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
