"""The paper's figures, drawn from the results tables."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from signgeom.io import atomic_output  # noqa: E402

log = logging.getLogger(__name__)


def save_figure(fig: Figure, paths: Iterable[str | Path], dpi: int = 150) -> None:
    """Write ``fig`` to every path (format from the suffix), each file atomically."""
    for path in paths:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
        log.info("wrote %s", path)


def panel_grid(
    rows: int, cols: int, width: float = 4.6, height: float = 3.4
) -> tuple[Figure, list[list[plt.Axes]]]:
    """A ``rows x cols`` grid of panels of ``width x height`` inches each (always 2-D)."""
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), squeeze=False, constrained_layout=True
    )
    return fig, axes
