"""Sign-family Figure 3: its outputs, built only when some model has a family optimizer (which
models take part, and their similarity tables, are the plan's: signgeom.plan.cifar).

Kept apart from the rules in family.smk (Snakemake's linter asks not to mix rules and functions).
"""

FAMILY_MODELS = CIFAR.family_models
FIGURE3_FAMILY = [f"figures/figure3_family.{ext}" for ext in FIGURE_EXTS]
# Targets of `rule all` and provenance: only when some model has a family optimizer.
FAMILY_TARGETS = FIGURE3_FAMILY if FAMILY_MODELS else []
FAMILY_CLAIMS = f"{CDIR}/family_claims.csv"
FAMILY_TABLE_TARGETS = [f"{CDIR}/family.csv", FAMILY_CLAIMS] if FAMILY_MODELS else []
SIMILARITY = C["similarity"]
SIMILARITY_TABLES = CIFAR.similarity_tables()
