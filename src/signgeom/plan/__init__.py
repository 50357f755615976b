"""The workflow's decisions, in Python: which jobs exist, their targets and their params.

The rules (``workflow/rules/*.smk``) hold inputs, outputs, one settings param and one command;
everything they decide from the config comes from here, so it is tested without Snakemake
(``tests/test_plan.py``):

- :mod:`signgeom.plan.params`: a rule's params, with the one JSON that reruns the job when any
  setting changes (:func:`~signgeom.plan.params.rule_params`);
- :mod:`signgeom.plan.resources`: threads, memory, runtime and GPUs of a job kind;
- :mod:`signgeom.plan.quadratic`: the spectrum families' paths (Figure 2, Proposition 5);
- :mod:`signgeom.plan.cifar`: Figure 3's training runs, seeds, selection, estimate shards and
  tables (and the sign family's and the Hessian premises' targets);
- :mod:`signgeom.plan.rotation`: Figure 5's rotated runs and shards.

Every plan is built from the validated config (a dict). Decisions made after the step-size
selection take the selection table's path from a function of the model (the workflow passes the
``cifar_select`` checkpoint's output; a test passes a file of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from signgeom.plan.cifar import CifarPlan, SelectionPath
from signgeom.plan.params import rule_params
from signgeom.plan.quadratic import QuadraticPlan
from signgeom.plan.resources import Resources
from signgeom.plan.rotation import RotationPlan
from signgeom.settings import Settings


class Plan:
    """Every decision of the workflow for one validated ``config``: ``cifar``, ``rotation``,
    ``quadratic`` (the stages' jobs and targets), ``resources``, and :meth:`params`."""

    def __init__(self, config: Mapping[str, Any], selection: SelectionPath | None = None) -> None:
        self.config = config
        self.resources = Resources(config)
        self.quadratic = QuadraticPlan(config)
        self.cifar = CifarPlan(config, selection)
        self.rotation = RotationPlan(self.cifar)

    def params(
        self, source: type[Settings] | Callable[..., Settings] | None = None, /, **values: Any
    ) -> dict[str, Any]:
        """A rule's params from this config (:func:`signgeom.plan.params.rule_params`)."""
        return rule_params(self.config, source, **values)
