"""Figure 2: Hessian grid -> exact smoothness constants -> GD/signGD runs -> summary -> figure;
Proposition 5: separable smoothness L_sep and the bound chain -> bounds figure; Figures 1 and 4.

The quadratic stage is vectorised: one job per step, all in the SLURM group "quadratic", so a
cluster run submits it as one job, never thousands.

One chain per spectrum family (quadratic.families). The first family keeps the plain paths
(results/quadratic/*, figures/figure2.*, figures/bounds.*); every other family f writes
results/quadratic/<family>/* and figures/figure2_<family>.*, figures/bounds_<family>.*
(wildcards fdir, fsuffix; see common.smk).

A job with several settings gets them as one argument, ``--settings`` (their JSON): the classes
of signgeom.quadratic.settings, built from the config by the plan's params (signgeom.plan.params.rule_params).
"""

from signgeom.quadratic.settings import (
    GridSettings,
    RunsSettings,
    SeparableSettings,
    SummarySettings,
    TwoDSettings,
)

QUADRATIC_RESULTS = [
    path
    for name in ("hessians.npz", "constants.csv", "runs.parquet", "summary.csv", "separable.csv")
    for path in QUAD.results(name)
]
QUAD_THREADS = PLAN.resources.threads("quadratic")
QUAD_RESOURCES = PLAN.resources.cpu_job("quadratic")


rule quadratic_hessians:
    output:
        f"{QDIR}/{{fdir}}hessians.npz",
    log:
        "logs/quadratic/{fdir}hessians.log",
    benchmark:
        "benchmarks/quadratic/{fdir}hessians.tsv"
    group:
        "quadratic"
    conda:
        "../envs/signgeom.yaml"
    threads: QUAD_THREADS
    resources:
        **QUAD_RESOURCES,
    params:
        **PLAN.params(GridSettings, family=QUAD.family_of_dir),
    shell:
        "python -m signgeom.quadratic.hessians --settings {params.settings:q}"
        " --out {output:q} 2> {log:q}"


rule quadratic_constants:
    input:
        rules.quadratic_hessians.output,
    output:
        f"{QDIR}/{{fdir}}constants.csv",
    log:
        "logs/quadratic/{fdir}constants.log",
    benchmark:
        "benchmarks/quadratic/{fdir}constants.tsv"
    group:
        "quadratic"
    conda:
        "../envs/signgeom.yaml"
    threads: QUAD_THREADS
    resources:
        **QUAD_RESOURCES,
    params:
        **PLAN.params(max_exact_dim=config["quadratic"]["max_exact_dim"], family=QUAD.family_of_dir),
    shell:
        "python -m signgeom.quadratic.constants --hessians {input:q}"
        " --max-exact-dim {params.max_exact_dim:q} --family {params.family:q}"
        " --out {output:q} 2> {log:q}"


rule quadratic_runs:
    input:
        hessians=rules.quadratic_hessians.output,
        constants=rules.quadratic_constants.output,
    output:
        f"{QDIR}/{{fdir}}runs.parquet",
    log:
        "logs/quadratic/{fdir}runs.log",
    benchmark:
        "benchmarks/quadratic/{fdir}runs.tsv"
    group:
        "quadratic"
    conda:
        "../envs/signgeom.yaml"
    threads: QUAD_THREADS
    resources:
        **QUAD_RESOURCES,
    params:
        **PLAN.params(RunsSettings),
    shell:
        "python -m signgeom.quadratic.runs --settings {params.settings:q}"
        " --hessians {input.hessians:q} --constants {input.constants:q}"
        " --out {output:q} 2> {log:q}"


rule quadratic_summary:
    input:
        constants=rules.quadratic_constants.output,
        runs=rules.quadratic_runs.output,
    output:
        report(
            f"{QDIR}/{{fdir}}summary.csv",
            caption="../report/summary.rst",
            category="Figure 2",
            subcategory="Tables",
        ),
    log:
        "logs/quadratic/{fdir}summary.log",
    benchmark:
        "benchmarks/quadratic/{fdir}summary.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(SummarySettings),
    shell:
        "python -m signgeom.quadratic.summary --settings {params.settings:q}"
        " --constants {input.constants:q} --runs {input.runs:q} --out {output:q} 2> {log:q}"


rule figure2_family:
    input:
        QUAD.result_of_suffix("summary.csv"),
    output:
        report(
            [f"figures/figure2{{fsuffix}}.{ext}" for ext in FIGURE_EXTS],
            caption="../report/figure2.rst",
            category="Figure 2",
            subcategory="Figure",
        ),
    log:
        "logs/figures/figure2{fsuffix}.log",
    benchmark:
        "benchmarks/figures/figure2{fsuffix}.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(family=QUAD.family_of_suffix),
    shell:
        "python -m signgeom.plotting.figure2 --summary {input:q} --family {params.family:q}"
        " --out {output:q} 2> {log:q}"


rule quadratic_separable:
    input:
        hessians=rules.quadratic_hessians.output,
        constants=rules.quadratic_constants.output,
    output:
        report(
            f"{QDIR}/{{fdir}}separable.csv",
            caption="../report/separable.rst",
            category="Proposition 5",
            subcategory="Tables",
        ),
    log:
        "logs/quadratic/{fdir}separable.log",
    benchmark:
        "benchmarks/quadratic/{fdir}separable.tsv"
    group:
        "quadratic"
    conda:
        "../envs/signgeom.yaml"
    threads: QUAD_THREADS
    resources:
        **QUAD_RESOURCES,
    params:
        **PLAN.params(SeparableSettings),
    shell:
        "python -m signgeom.quadratic.separable --settings {params.settings:q}"
        " --hessians {input.hessians:q} --constants {input.constants:q}"
        " --out {output:q} 2> {log:q}"


rule bounds_family:
    input:
        QUAD.result_of_suffix("separable.csv"),
    output:
        report(
            [f"figures/bounds{{fsuffix}}.{ext}" for ext in FIGURE_EXTS],
            caption="../report/bounds.rst",
            category="Proposition 5",
            subcategory="Figure",
        ),
    log:
        "logs/figures/bounds{fsuffix}.log",
    benchmark:
        "benchmarks/figures/bounds{fsuffix}.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(family=QUAD.family_of_suffix),
    shell:
        "python -m signgeom.plotting.bounds --separable {input:q} --family {params.family:q}"
        " --out {output:q} 2> {log:q}"


rule figure2:
    """Target: Figure 2 of every family."""
    input:
        FIGURE2,
    localrule: True


rule bounds:
    """Target: the bounds figure of every family."""
    input:
        BOUNDS,
    localrule: True


rule figure1:
    output:
        report(
            [f"figures/figure1.{ext}" for ext in FIGURE_EXTS],
            caption="../report/figure1.rst",
            category="Figures 1 and 4",
        ),
    log:
        "logs/figures/figure1.log",
    benchmark:
        "benchmarks/figures/figure1.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(TwoDSettings),
    shell:
        "python -m signgeom.plotting.figure1 --settings {params.settings:q}"
        " --out {output:q} 2> {log:q}"


rule figure4:
    output:
        report(
            [f"figures/figure4.{ext}" for ext in FIGURE_EXTS],
            caption="../report/figure4.rst",
            category="Figures 1 and 4",
        ),
    log:
        "logs/figures/figure4.log",
    benchmark:
        "benchmarks/figures/figure4.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(TwoDSettings),
    shell:
        "python -m signgeom.plotting.figure4 --settings {params.settings:q}"
        " --out {output:q} 2> {log:q}"
