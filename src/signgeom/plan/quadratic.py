"""The spectrum families' paths (quadratic.families): Figure 2 and Proposition 5, per family.

The first family keeps the plain paths (results/quadratic/*, figures/figure2.*); every other
family f writes results/quadratic/f/* and figures/figure2_f.* (the rules' wildcards ``fdir``,
"" or "f/", and ``fsuffix``, "" or "_f").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

QDIR = "results/quadratic"
FIGURE_EXTS = ("pdf", "png")


def one_of(values: Iterable[str]) -> str:
    """A wildcard regex matching exactly these strings (the empty one included)."""
    return "(?:" + "|".join(re.escape(v) for v in values) + ")"


class QuadraticPlan:
    """Paths of every family's results and figures."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.families: list[str] = list(config["quadratic"]["families"])
        self.dir = {f: "" if i == 0 else f"{f}/" for i, f in enumerate(self.families)}
        self.suffix = {f: "" if i == 0 else f"_{f}" for i, f in enumerate(self.families)}
        self.dir_family = {d: f for f, d in self.dir.items()}
        self.suffix_family = {s: f for f, s in self.suffix.items()}

    def figures(self, name: str) -> list[str]:
        """One figure of every family: figures/<name><suffix>.{pdf,png}."""
        return [f"figures/{name}{s}.{ext}" for s in self.suffix.values() for ext in FIGURE_EXTS]

    def results(self, name: str) -> list[str]:
        """One result file of every family: results/quadratic/<fdir><name>."""
        return [f"{QDIR}/{d}{name}" for d in self.dir.values()]

    def family_of_dir(self, wildcards: Any) -> str:
        """The family of the job's ``fdir`` wildcard."""
        return self.dir_family[wildcards.fdir]

    def family_of_suffix(self, wildcards: Any) -> str:
        """The family of the job's ``fsuffix`` wildcard."""
        return self.suffix_family[wildcards.fsuffix]

    def result_of_suffix(self, name: str) -> Callable[[Any], str]:
        """Input function: the result file of the family named by the job's ``fsuffix``."""
        return lambda wc: f"{QDIR}/{self.dir[self.family_of_suffix(wc)]}{name}"
