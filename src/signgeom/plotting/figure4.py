"""Figure 4: the contours of Figure 1 with the separable bound ``x^T diag(l) x = 1``,
``l = (a + |b|, d + |b|)`` (Eq. 34; axis-aligned, inside the ``H`` ellipse) and the Euclidean
bound ``lambda_max ||x||^2 = 1`` (a circle, the same for every rotation).

In 2-D ``l_1 + l_2 = L_inf``; each panel is annotated with ``L_2``, ``l`` and ``sum l_i``.
"""

from __future__ import annotations

from collections.abc import Sequence

from signgeom.cli import run_cli
from signgeom.plotting.figure1 import main as figure1_main


def main(argv: Sequence[str] | None = None) -> None:
    figure1_main(argv, bounds=True)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
