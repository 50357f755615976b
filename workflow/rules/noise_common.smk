"""Helpers of the noise stages (noise.smk): paths, resources and the shared CLI flags.

Kept apart from the rules in noise.smk (Snakemake's linter asks not to mix rules and functions).
"""

TDIR = "results/theory"
T = config["theory"]
TN = T["noise"]
THEORY_RESOURCES = dict(
    mem_mb=config["resources"]["theory"]["mem_mb"],
    runtime=runtime_for("theory"),
)


def noise_flags():
    """The theory.noise flags of both stages, as a list for {params:q} quoting."""
    flags = [
        *("--family", TN["family"], "--lambda-ratio", TN["lambda_ratio"]),
        *("--theta", TN["theta"], "--sigma-rms", TN["sigma_rms"]),
        *("--sparse-k", TN["sparse_k"], "--target-fraction", TN["target_fraction"]),
        *("--runs", TN["runs"], "--max-steps", TN["max_steps"], "--widen", TN["widen"]),
        *("--seed", config["seed"]),
    ]
    return [str(f) for f in flags]


def grid_flags(optimizers):
    """--grid NAME MIN MAX NUM for each optimizer."""
    grids = TN["step_sizes"]
    return [
        str(v)
        for name in optimizers
        for v in ("--grid", name, grids[name]["min"], grids[name]["max"], grids[name]["num"])
    ]


NOISE_DIMENSION_TABLES = [
    f"{TDIR}/noise_dimension/{name}.csv" for name in ("steps", "ratios", "slopes")
]
MAJORITY_VOTE_TABLES = [f"{TDIR}/majority_vote/majority.csv"]
FIGURE_NOISE_DIMENSION = [f"figures/noise_dimension.{ext}" for ext in FIGURE_EXTS]
FIGURE_MAJORITY_VOTE = [f"figures/majority_vote.{ext}" for ext in FIGURE_EXTS]
THEORY_NOISE = (
    NOISE_DIMENSION_TABLES + MAJORITY_VOTE_TABLES + FIGURE_NOISE_DIMENSION + FIGURE_MAJORITY_VOTE
)
