"""Sign-family Figure 3 helpers: which models take part, and the selected run of each seed.

Kept apart from the rules in family.smk (Snakemake's linter asks not to mix rules and functions).
"""

from signgeom.analysis.family import family_models

FAMILY_MODELS = family_models(C["models"])
FIGURE3_FAMILY = [f"figures/figure3_family.{ext}" for ext in FIGURE_EXTS]
# Targets of `rule all` and provenance: only when some model has a family optimizer.
FAMILY_TARGETS = FIGURE3_FAMILY if FAMILY_MODELS else []
FAMILY_CLAIMS = f"{CDIR}/family_claims.csv"
FAMILY_TABLE_TARGETS = [f"{CDIR}/family.csv", FAMILY_CLAIMS] if FAMILY_MODELS else []
SIMILARITY = C["similarity"]


# One similarity table per (family model, optimizer of its grid, seed).
SIMILARITY_TABLES = [
    f"{CDIR}/similarity/{model}/{opt}/seed{seed}.csv"
    for model in FAMILY_MODELS
    for opt in C["models"][model]["step_sizes"]
    for seed in SEEDS
]
