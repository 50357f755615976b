"""Transformer claims helpers (issue 36): the models of the language-model task, by batch size.

Kept apart from the rules in transformer.smk (Snakemake's linter asks not to mix rules and
functions).
"""

TRANSFORMER_MODELS = sorted(
    (m for m in C["models"] if task_for_model(model_architecture(C, m)).name == "charlm"),
    key=lambda m: model_batch_size(C, m),
)
TRANSFORMER_CLAIMS = f"{CDIR}/transformer_claims.csv"
TRANSFORMER_LOSSES = f"{CDIR}/transformer_losses.csv"
# t1's comparison: the CNN's loss ratio of the committed subset reference (README).
CNN_REFERENCE_CLAIMS = str(REPO / "results/reference/subset/claims.csv")
TRANSFORMER_TARGETS = [TRANSFORMER_CLAIMS, TRANSFORMER_LOSSES] if TRANSFORMER_MODELS else []
