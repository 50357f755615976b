"""Transformer claims (t1-t3; t5 where cifar.hessian.models holds transformer models) from the Figure 3 tables of the language-model models,
with the CNN's loss ratio of the subset reference; `snakemake transformer` builds the tables,
these claims, the final losses, Figure 3's layout, the sign family's figure and claims (where
a model's grids hold a sign-family optimizer), the probe-length sensitivity (where
cifar.sensitivity.models is not empty) and the rotated-coordinates control (t4:
Figure 5's sweep and claims, where cifar.rotation.models is not empty) for whatever models the
config holds (presets/transformer.yaml: only the transformer's).
"""


rule transformer_claims:
    input:
        metrics=rules.cifar_tables.output.metrics,
        smoothness=rules.cifar_tables.output.smoothness,
        step_sizes=rules.cifar_tables.output.step_sizes,
        cnn_claims=CNN_REFERENCE_CLAIMS,
    output:
        claims=report(
            TRANSFORMER_CLAIMS,
            caption="../report/transformer_claims.rst",
            category="Transformer",
            subcategory="Tables",
        ),
        losses=TRANSFORMER_LOSSES,
    log:
        "logs/cifar/transformer_claims.log",
    benchmark:
        "benchmarks/cifar/transformer_claims.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(
            models=TRANSFORMER_MODELS,
            batch_sizes=CIFAR.batch_sizes(TRANSFORMER_MODELS),
            claims=ClaimSettings,
        ),
    shell:
        "python -m signgeom.analysis.transformer_claims --metrics {input.metrics:q}"
        " --smoothness {input.smoothness:q} --step-sizes {input.step_sizes:q}"
        " --models {params.models:q} --batch-sizes {params.batch_sizes:q}"
        " --cnn-claims {input.cnn_claims:q} --settings {params.claims:q}"
        " --out {output.claims:q} --out-losses {output.losses:q} 2> {log:q}"


rule transformer_hessian_claims:
    input:
        heterogeneity=rules.cifar_hessian_heterogeneity.output.heterogeneity,
        step_sizes=rules.cifar_tables.output.step_sizes,
        cnn=CNN_REFERENCE_HETEROGENEITY,
    output:
        TRANSFORMER_HESSIAN_CLAIMS,
    log:
        "logs/cifar/transformer_hessian_claims.log",
    benchmark:
        "benchmarks/cifar/transformer_hessian_claims.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(
            models=TRANSFORMER_HESSIAN_MODELS,
            batch_sizes=CIFAR.batch_sizes(TRANSFORMER_HESSIAN_MODELS),
            claims=ClaimSettings,
        ),
    shell:
        "python -m signgeom.analysis.transformer_hessian_claims"
        " --heterogeneity {input.heterogeneity:q} --cnn-heterogeneity {input.cnn:q}"
        " --step-sizes {input.step_sizes:q} --models {params.models:q}"
        " --batch-sizes {params.batch_sizes:q} --settings {params.claims:q}"
        " --out {output:q} 2> {log:q}"


# The transformer reference's targets (presets/transformer.yaml, docs/tasks.md).
rule transformer:
    input:
        rules.cifar_tables.output,
        TRANSFORMER_TARGETS,
        FIGURE3,
        ROTATION_OUTPUTS,
        [SENSITIVITY_TABLE, *FIGURE_SENSITIVITY] if SENS["models"] else [],
        FAMILY_TABLE_TARGETS,
        FAMILY_TARGETS,
    localrule: True
