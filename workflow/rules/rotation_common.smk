"""Figure 5 helpers (beyond the paper): the runs of the rotation sweep and their paths.

Each optimizer of cifar.rotation.optimizers trains, for each model of cifar.rotation.models, at
its selected step size (known after the Figure 3 selection) times each of
cifar.rotation.lr_factors, at each theta of cifar.rotation.thetas, on every seed of cifar.seeds
(the claims' intervals are over seeds). A run at
theta = 0 is a plain run (signgeom.training.rotation), so its path is the one cifar_train writes;
a rotated run's directory adds theta to its name (signgeom.training.runid).
"""

from signgeom.analysis.rotation_table import rotated_lr

ROT = C["rotation"]
ROTATION_TABLE = f"{CDIR}/rotation.csv"
ROTATION_CLAIMS = f"{CDIR}/rotation_claims.csv"
FIGURE5 = [f"figures/figure5.{ext}" for ext in FIGURE_EXTS]
ROTATION_TABLES = [ROTATION_TABLE, ROTATION_CLAIMS] if ROT["models"] else []
ROTATION_FIGURES = FIGURE5 if ROT["models"] else []
ROTATION_OUTPUTS = ROTATION_TABLES + ROTATION_FIGURES
ROTATED_THETAS = [float(t) for t in ROT["thetas"] if t != 0]


def rotation_status(model, optimizer, lr, seed, theta):
    """The status file of the sweep's run of (model, optimizer, lr, seed) at ``theta`` (at 0:
    the plain run)."""
    return run_status(model, optimizer, lr, int(seed), float(theta))


def selected_lr(model, optimizer):
    """The step size selected for (model, optimizer) (after the cifar_select checkpoint)."""
    table = pd.read_csv(checkpoints.cifar_select.get(model=model).output[0])
    return float(table.loc[table["optimizer"] == optimizer, "lr"].iloc[0])


def rotation_runs(wc):
    """Status files of every run of the sweep."""
    return [
        rotation_status(model, opt, rotated_lr(selected_lr(model, opt), factor), seed, theta)
        for model in ROT["models"]
        for opt in ROT["optimizers"]
        for seed in SEEDS
        for theta in ROT["thetas"]
        for factor in ROT["lr_factors"]
    ]


def rotated_selected_run(wc):
    """The status file of the rotated run at the selected step size (factor 1)."""
    lr = selected_lr(wc.model, wc.optimizer)
    return rotation_status(wc.model, wc.optimizer, lr, wc.seed, float(wc.theta))


def rotated_smoothness_shards():
    """The estimate shards along every rotated (theta != 0) selected-step trajectory."""
    return [
        f"{CDIR}/rotation/smoothness/{model}/{opt}/seed{seed}/theta{theta!r}/shard{shard}.csv"
        for model in ROT["models"]
        for opt in ROT["optimizers"]
        for seed in SEEDS
        for theta in ROTATED_THETAS
        for shard in range(SMOOTH["shards"])
    ]
