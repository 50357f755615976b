"""The paper's figures, drawn from the results tables."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from matplotlib.figure import Figure

from signgeom.io import atomic_output

log = logging.getLogger(__name__)


def save_figure(fig: Figure, paths: Iterable[str | Path], dpi: int = 150) -> None:
    """Write ``fig`` to every path (format from the suffix), each file atomically."""
    for path in paths:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
        log.info("wrote %s", path)
