"""Figure 3 helpers: paths of the training runs and the step-size selection, per-job resources.

Kept apart from the rules in cifar.smk (Snakemake's linter asks not to mix rules and functions).
"""

import pandas as pd

from signgeom.cifar.runid import run_dir_name, run_fields

C = config["cifar"]
CDIR = "results/cifar"
CIFAR_ROOT = "data/cifar10"
CIFAR_BATCHES = f"{CIFAR_ROOT}/cifar-10-batches-py"
FIGURE3 = ["figures/figure3.pdf", "figures/figure3.png"]
SMOOTH = C["smoothness"]
TRAJECTORY_SEED = C["seeds"][0]


def run_status(model, optimizer, lr, seed):
    """``runs/<model>/<optimizer>/lr<lr>_seed<seed>_<run id>/status.json``; the run id hashes
    every setting that shapes the trajectory (signgeom.cifar.runid), so a changed config
    trains new runs next to the old ones."""
    name = run_dir_name(run_fields(C, model, optimizer, lr, seed))
    return f"{CDIR}/runs/{model}/{optimizer}/{name}/status.json"


def model_runs(model):
    """Status files of every training job of one model (all optimizers, step sizes, seeds)."""
    grids = C["models"][model]["step_sizes"]
    return [
        run_status(model, opt, lr, seed)
        for opt, lrs in grids.items()
        for lr in lrs
        for seed in C["seeds"]
    ]


def limit_arg(value):
    return "none" if value is None else str(value)


def job_resources(kind):
    res = config["resources"][kind]
    return dict(
        gpu=config["resources"]["gpu"],
        mem_mb=res["mem_mb"],
        cpus_per_task=res["cpus"],
        runtime=runtime_for(kind),
    )


def selected_run(wc):
    """The status file of the run chosen for (model, optimizer), known after selection."""
    table = pd.read_csv(checkpoints.cifar_select.get(model=wc.model).output[0])
    row = table[table["optimizer"] == wc.optimizer]
    return run_status(wc.model, wc.optimizer, row["lr"].iloc[0], TRAJECTORY_SEED)
