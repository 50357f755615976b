"""Beyond the paper: the stochastic theory on quadratics.

Dense vs sparse noise across dimension (noise_dimension_*) and majority vote across workers
(majority_vote_*): each a run rule (tuned step sizes, per-run steps to the target), a summary
rule (bootstrap intervals, tables under results/theory/<stage>/) and a figure. Settings:
config key theory (theory.noise is shared by both stages), passed as one --settings argument
(signgeom.quadratic.settings).
"""

from signgeom.quadratic.settings import (
    MajoritySettings,
    NoiseDimensionSettings,
    NoiseSummarySettings,
)


rule noise_dimension_runs:
    output:
        runs=f"{TDIR}/noise_dimension/runs.parquet",
        tuning=f"{TDIR}/noise_dimension/tuning.csv",
    log:
        "logs/theory/noise_dimension_runs.log",
    benchmark:
        "benchmarks/theory/noise_dimension_runs.tsv"
    conda:
        "../envs/signgeom.yaml"
    resources:
        **THEORY_RESOURCES,
    params:
        **PLAN.params(NoiseDimensionSettings),
    shell:
        "python -m signgeom.quadratic.noise_dimension --settings {params.settings:q}"
        " --out-runs {output.runs:q} --out-tuning {output.tuning:q} 2> {log:q}"


rule noise_dimension_summary:
    input:
        runs=rules.noise_dimension_runs.output.runs,
        tuning=rules.noise_dimension_runs.output.tuning,
    output:
        steps=report(
            NOISE_DIMENSION_TABLES[0],
            caption="../report/noise_dimension_tables.rst",
            category="Beyond the paper: noise",
            subcategory="Dense vs sparse noise",
        ),
        ratios=NOISE_DIMENSION_TABLES[1],
        slopes=report(
            NOISE_DIMENSION_TABLES[2],
            caption="../report/noise_dimension_tables.rst",
            category="Beyond the paper: noise",
            subcategory="Dense vs sparse noise",
        ),
    log:
        "logs/theory/noise_dimension_summary.log",
    benchmark:
        "benchmarks/theory/noise_dimension_summary.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(NoiseSummarySettings),
    shell:
        "python -m signgeom.quadratic.noise_dimension_summary --settings {params.settings:q}"
        " --runs {input.runs:q} --tuning {input.tuning:q} --out-steps {output.steps:q}"
        " --out-ratios {output.ratios:q} --out-slopes {output.slopes:q} 2> {log:q}"


rule figure_noise_dimension:
    input:
        ratios=rules.noise_dimension_summary.output.ratios,
        slopes=rules.noise_dimension_summary.output.slopes,
    output:
        report(
            FIGURE_NOISE_DIMENSION,
            caption="../report/noise_dimension.rst",
            category="Beyond the paper: noise",
            subcategory="Dense vs sparse noise",
        ),
    log:
        "logs/figures/noise_dimension.log",
    benchmark:
        "benchmarks/figures/noise_dimension.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    shell:
        "python -m signgeom.plotting.noise_dimension --ratios {input.ratios:q}"
        " --slopes {input.slopes:q} --out {output:q} 2> {log:q}"


rule majority_vote_runs:
    output:
        runs=f"{TDIR}/majority_vote/runs.parquet",
        tuning=f"{TDIR}/majority_vote/tuning.csv",
    log:
        "logs/theory/majority_vote_runs.log",
    benchmark:
        "benchmarks/theory/majority_vote_runs.tsv"
    conda:
        "../envs/signgeom.yaml"
    resources:
        **THEORY_RESOURCES,
    params:
        **PLAN.params(MajoritySettings),
    shell:
        "python -m signgeom.quadratic.majority --settings {params.settings:q}"
        " --out-runs {output.runs:q} --out-tuning {output.tuning:q} 2> {log:q}"


rule majority_vote_summary:
    input:
        runs=rules.majority_vote_runs.output.runs,
        tuning=rules.majority_vote_runs.output.tuning,
    output:
        report(
            MAJORITY_VOTE_TABLES[0],
            caption="../report/majority_vote_table.rst",
            category="Beyond the paper: noise",
            subcategory="Majority vote",
        ),
    log:
        "logs/theory/majority_vote_summary.log",
    benchmark:
        "benchmarks/theory/majority_vote_summary.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(NoiseSummarySettings),
    shell:
        "python -m signgeom.quadratic.majority_summary --settings {params.settings:q}"
        " --runs {input.runs:q} --tuning {input.tuning:q} --out {output:q} 2> {log:q}"


rule figure_majority_vote:
    input:
        rules.majority_vote_summary.output,
    output:
        report(
            FIGURE_MAJORITY_VOTE,
            caption="../report/majority_vote.rst",
            category="Beyond the paper: noise",
            subcategory="Majority vote",
        ),
    log:
        "logs/figures/majority_vote.log",
    benchmark:
        "benchmarks/figures/majority_vote.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    shell:
        "python -m signgeom.plotting.majority --table {input:q} --out {output:q} 2> {log:q}"


rule theory_noise:
    """Target: both noise stages' tables and figures."""
    input:
        THEORY_NOISE,
    localrule: True
