"""Figure 3 helpers: paths of the training runs and the step-size selection, per-job resources.

Kept apart from the rules in cifar.smk (Snakemake's linter asks not to mix rules and functions).
"""

import pandas as pd
from snakemake.logging import logger

from signgeom.analysis.figure3_claims import MODELS as FIGURE3_CLAIM_MODELS
from signgeom.analysis.settings import ClaimSettings
from signgeom.config import corpus_path
from signgeom.training.run_settings import (
    TrainSettings,
    model_architecture,
    model_batch_size,
)
from signgeom.tasks.cifar.data import BATCHES_DIRNAME, local_source_problems
from signgeom.tasks.registry import task_for_model
from signgeom.estimate.estimate_settings import (
    HessianSettings,
    SensitivitySettings,
    SmoothnessSettings,
)
from signgeom.training.rundir import RunDir
from signgeom.training.runid import run_key_pattern, run_path

C = config["cifar"]
CIFAR_ROOT = "data/cifar10"
CIFAR_BATCHES = f"{CIFAR_ROOT}/{BATCHES_DIRNAME}"
# A cifar.data.local_dir that holds no copy stops the workflow here, before the data job
# (signgeom.tasks.cifar.data.local_source_problems says why); one that names another checkout's
# data is reported.
_errors, _warnings = local_source_problems(C["data"]["source"], C["data"].get("local_dir"), REPO)
for _warning in _warnings:
    logger.warning(f"warning: {_warning}")
if _errors:
    raise WorkflowError("\n".join(_errors))
# The data of each task's models: CIFAR-10's batches (the cifar_data job makes them), the
# charlm task's text file (signgeom.tasks.registry; docs/tasks.md).
TASK_DATA = {"cifar10": CIFAR_BATCHES, "charlm": str(corpus_path(C, REPO))}


def model_data(wc):
    """Input function: the data of the job's model (its task's, TASK_DATA)."""
    return TASK_DATA[task_for_model(model_architecture(C, wc.model)).name]


SMOOTH = C["smoothness"]
# Seeds: the step-size grid is trained on SELECTION_SEEDS; the selected trajectories are
# trained, estimated and drawn on every seed of SEEDS (the intervals over seeds come from them).
SEEDS = C["seeds"]
SELECTION_SEEDS = C["selection_seeds"] if C.get("selection_seeds") is not None else SEEDS
# Runs that are analysed once rather than per seed (the Hessian premises, the probe-length
# sensitivity) use the first seed.
FIRST_SEED = SEEDS[0]
SENS = C["sensitivity"]
CLAIMS = C["claims"]
# The paper's claims table, where a model it has claims about is configured.
FIGURE3_CLAIMS = [CLAIMS_TABLE] if set(FIGURE3_CLAIM_MODELS) & set(C["models"]) else []


def train_settings(model, optimizer, lr, seed, theta=0.0):
    """The settings of one training run (signgeom.training.run_settings), from the config."""
    return TrainSettings.from_config(
        config, model=model, optimizer=optimizer, lr=lr, seed=seed, rotation_theta=theta
    )


def train_settings_json(wc):
    """The JSON of a training job's settings: the rule's one argument (the theta wildcard, if
    any, sets the rotation)."""
    theta = float(wc.theta) if "theta" in wc.keys() else 0.0
    return train_settings(wc.model, wc.optimizer, wc.lr, wc.seed, theta).to_json()


def model_settings(model):
    """The network and minibatch size of a cifar.models entry (the similarity job's values)."""
    return dict(architecture=model_architecture(C, model), batch_size=model_batch_size(C, model))


def run_dir(key):
    """A training run's directory of a run key or its pattern (signgeom.training.runid)."""
    return RunDir(run_path(CDIR, key))


def run_status(model, optimizer, lr, seed, theta=0.0):
    """The status file of a run; its directory's name carries the run id, the hash of every
    setting that shapes the trajectory (signgeom.training.runid), so a changed config trains new
    runs next to the old ones."""
    return str(run_dir(train_settings(model, optimizer, lr, seed, theta).run_key()).status)


def model_runs(model):
    """Status files of the step-size grid of one model (all optimizers, step sizes, selection
    seeds)."""
    grids = C["models"][model]["step_sizes"]
    return [
        run_status(model, opt, lr, seed)
        for opt, lrs in grids.items()
        for lr in lrs
        for seed in SELECTION_SEEDS
    ]


def limit_arg(value):
    return "none" if value is None else str(value)


def estimate_settings_json(settings_class, **fixed):
    """Params function: the JSON of an estimate's settings (signgeom.estimate.estimate_settings)
    from the config, the job's model and optimizer wildcards, its shard wildcard where it has
    one, and the ``fixed`` values; the rule's one argument, so a changed setting reruns the job."""

    def settings(wc):
        per_job = dict(model=wc.model, trajectory_optimizer=wc.optimizer, **fixed)
        if "shard" in wc.keys():
            per_job["shard"] = int(wc.shard)
        return settings_class.from_config(config, **per_job).to_json()

    return settings


GPUS = config["resources"]["gpu"]
RUNS_PER_GPU = config["resources"]["runs_per_gpu"] if GPUS else 1
SHARED_GPU = RUNS_PER_GPU > 1
# Locally, --resources gpu=N also caps gpu_slots at N x runs_per_gpu (unless given).
if "gpu" in workflow.global_resources and "gpu_slots" not in workflow.global_resources:
    _gpu_limit = workflow.global_resources["gpu"].value
    if isinstance(_gpu_limit, int):
        workflow.register_resource("gpu_slots", _gpu_limit * RUNS_PER_GPU)


def job_resources(kind):
    """Resources of a training or smoothness job: memory, CPUs, runtime and GPUs.

    A job on a whole GPU asks for gpu (sbatch --gpus=N) and holds runs_per_gpu gpu_slots per
    GPU; a training job sharing a GPU (runs_per_gpu > 1) asks instead for one GPU shard
    (sbatch --gres=shard:1) and holds one slot, so runs_per_gpu of them fill one GPU.
    """
    res = config["resources"][kind]
    out = dict(mem_mb=res["mem_mb"], cpus_per_task=res["cpus"], runtime=runtime_for(kind))
    if kind == "train" and SHARED_GPU:
        return dict(out, gres="shard:1", gpu_slots=1)
    return dict(out, gpu=GPUS, gpu_slots=GPUS * RUNS_PER_GPU)


def chosen_lr(model, optimizer):
    """The step size selected for (model, optimizer), known after the selection checkpoint."""
    path = checkpoints.cifar_select.get(model=model).output[0]
    table = pd.read_csv(path)
    rows = table[table["optimizer"] == optimizer]
    if rows.empty:
        raise ValueError(
            f"{path} selects no step size for optimizer {optimizer!r} of "
            f"cifar.models.{model}.step_sizes (it holds {sorted(set(table['optimizer']))}): "
            "it was written for another grid; delete it to select again"
        )
    return rows["lr"].iloc[0]


def selected_run(wc):
    """The status file of the selected run of (model, optimizer) for the job's seed wildcard
    (the first seed where the rule has none)."""
    seed = int(wc.seed) if "seed" in wc.keys() else FIRST_SEED
    return run_status(wc.model, wc.optimizer, chosen_lr(wc.model, wc.optimizer), seed)


def selected_runs(wc):
    """Status files of the selected trajectories of every model, optimizer and seed."""
    return [
        run_status(model, opt, chosen_lr(model, opt), seed)
        for model, spec in C["models"].items()
        for opt in spec["step_sizes"]
        for seed in SEEDS
    ]
