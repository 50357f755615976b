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
# t5: the transformer models of cifar.hessian.models against the CNN's committed block spread.
TRANSFORMER_HESSIAN_MODELS = [m for m in TRANSFORMER_MODELS if m in C["hessian"]["models"]]
TRANSFORMER_HESSIAN_CLAIMS = f"{CDIR}/transformer_hessian_claims.csv"
CNN_REFERENCE_HETEROGENEITY = str(
    REPO / "results/reference/transformer/cnn_hessian_heterogeneity.csv"
)
if TRANSFORMER_HESSIAN_MODELS:
    TRANSFORMER_TARGETS.append(TRANSFORMER_HESSIAN_CLAIMS)
