"""Transformer claims helpers: the models of the language-model task, by batch size.

Kept apart from the rules in transformer.smk (Snakemake's linter asks not to mix rules and
functions).
"""

TRANSFORMER_MODELS = CIFAR.models_of_task("charlm")
TRANSFORMER_CLAIMS = f"{CDIR}/transformer_claims.csv"
TRANSFORMER_LOSSES = f"{CDIR}/transformer_losses.csv"
# t1's comparison: the CNN's loss ratio of the committed subset reference (README).
CNN_REFERENCE_CLAIMS = str(REPO / "results/reference/subset/claims.csv")
TRANSFORMER_TARGETS = [TRANSFORMER_CLAIMS, TRANSFORMER_LOSSES] if TRANSFORMER_MODELS else []
