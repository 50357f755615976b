"""Sign-family Figure 3 helpers: which models take part, and the selected run of each seed.

Kept apart from the rules in family.smk (Snakemake's linter asks not to mix rules and functions).
"""

from signgeom.cifar.family import family_models

FAMILY_MODELS = family_models(C["models"])
FIGURE3_FAMILY = [f"figures/figure3_family.{ext}" for ext in FIGURE_EXTS]
# Targets of `rule all` and provenance: only when some model has a family optimizer.
FAMILY_TARGETS = FIGURE3_FAMILY if FAMILY_MODELS else []
FAMILY_TABLE_TARGETS = [f"{CDIR}/family.csv"] if FAMILY_MODELS else []
SIMILARITY = C["similarity"]


def similarity_tables():
    """One similarity table per (family model, optimizer of its grid, seed)."""
    return [
        f"{CDIR}/similarity/{model}/{opt}/seed{seed}.csv"
        for model in FAMILY_MODELS
        for opt in C["models"][model]["step_sizes"]
        for seed in C["seeds"]
    ]


def selected_run_of_seed(wc):
    """The status file of the run chosen for (model, optimizer) with the job's seed."""
    table = pd.read_csv(checkpoints.cifar_select.get(model=wc.model).output[0])
    row = table[table["optimizer"] == wc.optimizer]
    return run_status(wc.model, wc.optimizer, row["lr"].iloc[0], int(wc.seed))
