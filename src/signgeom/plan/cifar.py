"""Figure 3's jobs: the step-size grid, the selected trajectories, their estimates and tables.

Each model of ``cifar.models`` trains every step size of its ``step_sizes`` (per optimizer) on
every selection seed; the selection (a table per model, written by the workflow's checkpoint)
picks one step size per optimizer; the selected trajectories are trained on every seed of
``cifar.seeds`` and estimated along (smoothness on every seed, in ``cifar.smoothness.shards``
shards; the probe sensitivity and the Hessian premises on the first seed; the sign family's
similarity on every seed; each probe option of ``cifar.smoothness.robustness_probe_steps``
estimated again along every selected trajectory, in shards of its own). A run's path carries
its run id, the hash of the settings that shape its trajectory (:mod:`signgeom.training.runid`),
so a changed config trains new runs next to the old ones.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from signgeom.analysis.family import family_models
from signgeom.analysis.figure3_claims import MODELS as FIGURE3_CLAIM_MODELS
from signgeom.plan.params import wildcard
from signgeom.plan.quadratic import one_of
from signgeom.tasks.cifar.data import BATCHES_DIRNAME
from signgeom.tasks.registry import task_for_model
from signgeom.training.run_settings import TrainSettings, model_architecture, model_batch_size
from signgeom.training.rundir import RunDir
from signgeom.training.runid import run_key_pattern, run_path

CDIR = "results/cifar"
CIFAR_ROOT = "data/cifar10"
CIFAR_BATCHES = f"{CIFAR_ROOT}/{BATCHES_DIRNAME}"
# The charlm models' text, copied into the working directory from cifar.data.corpus.
CHARLM_CORPUS = "data/charlm/corpus.txt"

# The per-job values of a training job's settings, from its wildcards (a plain run has no theta).
RUN_WILDCARDS = dict(
    model=wildcard("model"),
    optimizer=wildcard("optimizer"),
    lr=wildcard("lr"),
    seed=wildcard("seed"),
    theta=wildcard("theta", float, 0.0),
)
# The per-job values of an estimate's settings along a trajectory (a sharded one adds
# ``shard=wildcard("shard", int)``).
TRAJECTORY_WILDCARDS = dict(model=wildcard("model"), trajectory_optimizer=wildcard("optimizer"))

SelectionPath = Callable[[str], "str | os.PathLike[str]"]


@functools.lru_cache(maxsize=64)
def _selection_table(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    """The selection table at ``path`` (read again only when the file changed)."""
    return pd.read_csv(path)


class CifarPlan:
    """Which Figure 3 jobs exist, from the validated config.

    ``selection`` gives the path of a model's selection table (optimizer, lr); it is called
    only by the decisions made after the selection.
    """

    def __init__(self, config: Mapping[str, Any], selection: SelectionPath | None = None) -> None:
        self.config = config
        self.cifar = config["cifar"]
        self.models: Mapping[str, Any] = self.cifar["models"]
        self.selection = selection
        # The step-size grid is trained on the selection seeds (cifar.seeds unless
        # cifar.selection_seeds is given); the selected trajectories on every seed of
        # cifar.seeds (the intervals over seeds come from them).
        self.seeds: list[int] = list(self.cifar["seeds"])
        chosen = self.cifar.get("selection_seeds")
        self.selection_seeds: list[int] = list(chosen) if chosen is not None else self.seeds
        # Runs analysed once rather than per seed (Hessian premises, probe sensitivity).
        self.first_seed: int = self.seeds[0]
        self.shards: int = self.cifar["smoothness"]["shards"]
        # Probe options estimated besides the headline probe_step (RobustnessSettings).
        self.probe_options: list[str] = list(self.cifar["smoothness"]["robustness_probe_steps"])

    # Training runs ------------------------------------------------------------------------

    def train_settings(
        self, model: str, optimizer: str, lr: Any, seed: Any, theta: float = 0.0
    ) -> TrainSettings:
        """The settings of one training run (signgeom.training.run_settings), from the config."""
        return TrainSettings.from_config(
            self.config, model=model, optimizer=optimizer, lr=lr, seed=seed, rotation_theta=theta
        )

    def task(self, model: str) -> str:
        """The task of the ``cifar.models`` entry ``model`` (of its network's registry entry)."""
        return task_for_model(model_architecture(self.cifar, model)).name

    def data_input(self, wildcards: Any) -> str:
        """The data the job's model reads (its task's), in the working directory: the CIFAR-10
        batches, or the copy of the charlm task's text file (``cifar.data.corpus``); so where
        the checkout is does not matter to a job's inputs."""
        return CHARLM_CORPUS if self.task(wildcards.model) == "charlm" else CIFAR_BATCHES

    def network(self, wildcards: Any) -> str:
        """The network of the job's model (``cifar.models.<model>.architecture``, else the
        model's name)."""
        return model_architecture(self.cifar, wildcards.model)

    def batch_size(self, wildcards: Any) -> int:
        """The minibatch of the job's model (``cifar.models.<model>.batch_size``, else
        ``cifar.batch_size``)."""
        return model_batch_size(self.cifar, wildcards.model)

    def batch_sizes(self, models: list[str]) -> list[int]:
        """The minibatch of each of ``models``."""
        return [model_batch_size(self.cifar, m) for m in models]

    def models_of_task(self, task: str) -> list[str]:
        """The models of ``task``, by increasing batch size (then name)."""
        chosen = [m for m in self.models if self.task(m) == task]
        return sorted(chosen, key=lambda m: (model_batch_size(self.cifar, m), m))

    @property
    def figure3_claims(self) -> bool:
        """Whether a model the paper's claims are about (the CNN, ResNet20) is configured."""
        return bool(set(FIGURE3_CLAIM_MODELS) & set(self.models))

    def run_status(self, model: str, optimizer: str, lr: Any, seed: Any, theta=0.0) -> str:
        """The status file of a run, in its directory named by its run id."""
        key = self.train_settings(model, optimizer, lr, seed, theta).run_key()
        return str(RunDir(run_path(CDIR, key)).status)

    @staticmethod
    def status_pattern(rotated: bool = False) -> str:
        """The status file of a training run with the wildcards of
        :func:`signgeom.training.runid.run_key_pattern` (the training rules' output)."""
        return str(RunDir(run_path(CDIR, run_key_pattern(rotated))).status)

    def model_runs(self, model: str) -> list[str]:
        """Status files of one model's step-size grid (optimizers x step sizes x selection
        seeds)."""
        return [
            self.run_status(model, optimizer, lr, seed)
            for optimizer, lrs in self.models[model]["step_sizes"].items()
            for lr in lrs
            for seed in self.selection_seeds
        ]

    def grid_runs(self) -> list[str]:
        """Status files of every model's step-size grid."""
        return [status for model in self.models for status in self.model_runs(model)]

    def selection_tables(self, models: Sequence[str] | None = None) -> list[str]:
        """Every model's selection table (written by the workflow's selection checkpoint), or
        those of ``models``."""
        return [f"{CDIR}/{model}/step_sizes.csv" for model in models or self.models]

    def selection_epoch(self, wildcards: Any) -> int:
        """The epoch whose training loss selects the step size of the job's model."""
        return self.models[wildcards.model]["selection_epoch"]

    # After the selection ------------------------------------------------------------------

    def selected_lr(self, model: str, optimizer: str) -> float:
        """The step size selected for (model, optimizer), from the model's selection table."""
        if self.selection is None:
            raise ValueError("this plan has no selection table: pass selection= to CifarPlan")
        path = str(self.selection(model))
        stat = Path(path).stat()
        table = _selection_table(path, stat.st_mtime_ns, stat.st_size)
        rows = table[table["optimizer"] == optimizer]
        if rows.empty:
            raise ValueError(
                f"{path} selects no step size for optimizer {optimizer!r} of "
                f"cifar.models.{model}.step_sizes (it holds {sorted(set(table['optimizer']))}): "
                "it was written for another grid; delete it to select again"
            )
        return float(rows["lr"].iloc[0])

    def selected_run(self, wildcards: Any) -> str:
        """The status file of the selected run of the job's (model, optimizer) on its seed
        wildcard (the first seed where the rule has none)."""
        seed = wildcard("seed", int, self.first_seed)(wildcards)
        lr = self.selected_lr(wildcards.model, wildcards.optimizer)
        return self.run_status(wildcards.model, wildcards.optimizer, lr, seed)

    def selected_runs(self, wildcards: Any = None) -> list[str]:
        """Status files of the selected trajectories of every model, optimizer and seed."""
        return [
            self.run_status(model, optimizer, self.selected_lr(model, optimizer), seed)
            for model, spec in self.models.items()
            for optimizer in spec["step_sizes"]
            for seed in self.seeds
        ]

    # Estimates and their tables -----------------------------------------------------------

    def smoothness_shards(
        self,
        models: Sequence[str] | None = None,
        optimizers: Sequence[str] | None = None,
        probe_step: str | None = None,
    ) -> list[str]:
        """The smoothness estimate shards along every selected trajectory (of ``models`` and
        ``optimizers`` only, where given): the headline ``probe_step``'s, or with
        ``probe_step`` (an option of ``robustness_probe_steps``) that option's, one path level
        below (``seed<s>/probe-<option>/shard<k>.csv``)."""
        level = "" if probe_step is None else f"probe-{probe_step}/"
        return [
            f"{CDIR}/smoothness/{model}/{optimizer}/seed{seed}/{level}shard{shard}.csv"
            for model, spec in self.models.items()
            if models is None or model in models
            for optimizer in spec["step_sizes"]
            if optimizers is None or optimizer in optimizers
            for seed in self.seeds
            for shard in range(self.shards)
        ]

    def robustness_shards(self) -> list[str]:
        """The shards of every probe option of ``robustness_probe_steps`` along every selected
        trajectory (none where it is empty)."""
        return [s for o in self.probe_options for s in self.smoothness_shards(probe_step=o)]

    def probe_option_regex(self) -> str:
        """The wildcard regex of a robustness shard's option: one of ``robustness_probe_steps``
        (matching nothing where it is empty, so no other option's shard can be made)."""
        return one_of(self.probe_options) if self.probe_options else "(?!)"

    def _per_optimizer(self, models: list[str], name: str) -> list[str]:
        return [
            f"{CDIR}/{name}".format(model=model, optimizer=optimizer)
            for model in models
            for optimizer in self.models[model]["step_sizes"]
        ]

    def sensitivity_tables(self) -> list[str]:
        """The probe-length sensitivity of each optimizer of cifar.sensitivity.models."""
        models = self.cifar["sensitivity"]["models"]
        return self._per_optimizer(models, "sensitivity/{model}/{optimizer}.csv")

    def hessian_tables(self, name: str) -> list[str]:
        """The Hessian table ``name`` (epochs, blocks, density) of each optimizer of
        cifar.hessian.models."""
        models = self.cifar["hessian"]["models"]
        return self._per_optimizer(models, f"hessian/{{model}}/{{optimizer}}/{name}.csv")

    def hessian_block_tables(self, models: Sequence[str] | None = None) -> list[str]:
        """The per-block Hessian table of every selected trajectory (each optimizer and seed)
        of cifar.hessian.models (of those also in ``models``, where given)."""
        return [
            f"{CDIR}/hessian/{model}/{optimizer}/seed{seed}/param_blocks.csv"
            for model in self.cifar["hessian"]["models"]
            if models is None or model in models
            for optimizer in self.models[model]["step_sizes"]
            for seed in self.seeds
        ]

    @property
    def family_models(self) -> list[str]:
        """Models whose step_sizes list an optimizer beyond sgd and signsgd (the sign family's
        Figure 3), in config order."""
        return family_models(self.models)

    def similarity_tables(self) -> list[str]:
        """One similarity table per (family model, optimizer of its grid, seed)."""
        return [
            f"{CDIR}/similarity/{model}/{optimizer}/seed{seed}.csv"
            for model in self.family_models
            for optimizer in self.models[model]["step_sizes"]
            for seed in self.seeds
        ]
