"""Helpers of the noise stages (noise.smk): paths and resources.

Kept apart from the rules in noise.smk (Snakemake's linter asks not to mix rules and functions).
"""

TDIR = "results/theory"
THEORY_RESOURCES = PLAN.resources.cpu_job("theory")


NOISE_DIMENSION_TABLES = [
    f"{TDIR}/noise_dimension/{name}.csv" for name in ("steps", "ratios", "slopes")
]
MAJORITY_VOTE_TABLES = [f"{TDIR}/majority_vote/majority.csv"]
FIGURE_NOISE_DIMENSION = [f"figures/noise_dimension.{ext}" for ext in FIGURE_EXTS]
FIGURE_MAJORITY_VOTE = [f"figures/majority_vote.{ext}" for ext in FIGURE_EXTS]
THEORY_NOISE = (
    NOISE_DIMENSION_TABLES + MAJORITY_VOTE_TABLES + FIGURE_NOISE_DIMENSION + FIGURE_MAJORITY_VOTE
)
