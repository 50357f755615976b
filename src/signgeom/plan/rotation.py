"""Figure 5's jobs (beyond the paper): training in rotated coordinates.

Each optimizer of cifar.rotation.optimizers trains, for each model of cifar.rotation.models, at
its selected step size (Figure 3's selection) times each of cifar.rotation.lr_factors, at each
theta of cifar.rotation.thetas, on every seed of cifar.seeds. A run at theta = 0 is a plain run
(:mod:`signgeom.training.rotation`): its path is the one the plain training job writes; a
rotated run's directory adds theta to its name (:mod:`signgeom.training.runid`). The smoothness
is estimated along every rotated run at the selected step size (factor 1), in its rotated
coordinates.
"""

from __future__ import annotations

from typing import Any

from signgeom.analysis.rotation_table import rotated_lr
from signgeom.plan.cifar import CDIR, CifarPlan

ROTATION_TABLE = f"{CDIR}/rotation.csv"
ROTATION_CLAIMS = f"{CDIR}/rotation_claims.csv"


class RotationPlan:
    """Which Figure 5 jobs exist, from the config and Figure 3's plan (its selection)."""

    def __init__(self, cifar: CifarPlan) -> None:
        self.cifar = cifar
        spec = cifar.cifar["rotation"]
        self.models: list[str] = list(spec["models"])
        self.optimizers: list[str] = list(spec["optimizers"])
        self.thetas: list[float] = list(spec["thetas"])
        self.lr_factors: list[float] = list(spec["lr_factors"])
        self.rotated_thetas = [float(t) for t in self.thetas if t != 0]

    @property
    def enabled(self) -> bool:
        """Whether the sweep runs (cifar.rotation.models is not empty)."""
        return bool(self.models)

    def run_status(self, model: str, optimizer: str, lr: Any, seed: Any, theta: Any) -> str:
        """The status file of the sweep's run (at theta 0: the plain run)."""
        return self.cifar.run_status(model, optimizer, lr, int(seed), float(theta))

    def runs(self, wildcards: Any = None) -> list[str]:
        """Status files of every run of the sweep."""
        return [
            self.run_status(
                model,
                optimizer,
                rotated_lr(self.cifar.selected_lr(model, optimizer), factor),
                seed,
                theta,
            )
            for model in self.models
            for optimizer in self.optimizers
            for seed in self.cifar.seeds
            for theta in self.thetas
            for factor in self.lr_factors
        ]

    def selected_run(self, wildcards: Any) -> str:
        """The status file of the job's rotated run at the selected step size (factor 1)."""
        lr = self.cifar.selected_lr(wildcards.model, wildcards.optimizer)
        return self.run_status(
            wildcards.model, wildcards.optimizer, lr, wildcards.seed, wildcards.theta
        )

    def selection_tables(self) -> list[str]:
        """The selection tables of the sweep's models."""
        return self.cifar.selection_tables(self.models)

    def plain_smoothness_shards(self) -> list[str]:
        """Figure 3's estimate shards along the sweep's plain (theta = 0) selected trajectories:
        the table's theta = 0 rows, without the other models' estimates."""
        return self.cifar.smoothness_shards(self.models, self.optimizers)

    def smoothness_shards(self) -> list[str]:
        """The estimate shards along every rotated (theta != 0) selected-step trajectory."""
        return [
            f"{CDIR}/rotation/smoothness/{model}/{optimizer}/seed{seed}/theta{theta!r}/shard{shard}.csv"
            for model in self.models
            for optimizer in self.optimizers
            for seed in self.cifar.seeds
            for theta in self.rotated_thetas
            for shard in range(self.cifar.shards)
        ]
