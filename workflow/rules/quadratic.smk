"""Figure 2: Hessian grid -> exact smoothness constants -> GD/signGD runs -> summary -> figure;
Proposition 5: separable smoothness L_sep and the bound chain -> bounds figure; Figures 1 and 4.

The quadratic stage is vectorised: one job per step, all in the SLURM group "quadratic", so a
cluster run submits it as one job, never thousands.

One chain per spectrum family (quadratic.families). The first family keeps the plain paths
(results/quadratic/*, figures/figure2.*, figures/bounds.*); every other family f writes
results/quadratic/<family>/* and figures/figure2_<family>.*, figures/bounds_<family>.*
(wildcards fdir, fsuffix; see common.smk).
"""

QUADRATIC_RESULTS = [
    path
    for name in ("hessians.npz", "constants.csv", "runs.parquet", "summary.csv", "separable.csv")
    for path in family_results(name)
]
QUAD_THREADS = config["resources"]["quadratic"]["cpus"]
# CPUs via threads (not cpus_per_task, which SLURM group jobs sum over their members).
QUAD_RESOURCES = dict(
    mem_mb=config["resources"]["quadratic"]["mem_mb"],
    runtime=runtime_for("quadratic"),
)


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
        **with_settings(
            dim=Q["dim"],
            family=lambda wc: DIR_FAMILY[wc.fdir],
            theta=[Q["theta"][k] for k in ("min", "max", "num")],
            ratio=[Q["lambda_ratio"][k] for k in ("min", "max", "num")],
            rotations=Q["rotations"],
            seed=config["seed"],
        ),
    shell:
        "python -m signgeom.quadratic.hessians --dim {params.dim:q} --family {params.family:q}"
        " --theta {params.theta:q}"
        " --ratio {params.ratio:q} --rotations {params.rotations:q} --seed {params.seed:q}"
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
        max_exact_dim=Q["max_exact_dim"],
    shell:
        "python -m signgeom.quadratic.constants --hessians {input:q}"
        " --max-exact-dim {params.max_exact_dim:q} --out {output:q} 2> {log:q}"


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
        **with_settings(
            starts=Q["starts"],
            steps=Q["steps"],
            seed=config["seed"],
            starts_per_rotation=Q["starts_per_rotation"],
        ),
    shell:
        "python -m signgeom.quadratic.runs --hessians {input.hessians:q}"
        " --constants {input.constants:q}"
        " --starts {params.starts:q} --steps {params.steps:q} --seed {params.seed:q}"
        " --starts-per-rotation {params.starts_per_rotation:q} --out {output:q} 2> {log:q}"


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
        **with_settings(
            aggregate=Q["aggregate"],
            resamples=Q["bootstrap"]["resamples"],
            level=Q["bootstrap"]["level"],
            seed=config["seed"],
        ),
    shell:
        "python -m signgeom.quadratic.summary --constants {input.constants:q}"
        " --runs {input.runs:q} --aggregate {params.aggregate:q}"
        " --resamples {params.resamples:q} --level {params.level:q}"
        " --seed {params.seed:q} --out {output:q} 2> {log:q}"


rule figure2_family:
    input:
        family_input("summary.csv"),
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
        family=lambda wc: SUFFIX_FAMILY[wc.fsuffix],
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
        **with_settings(
            family=lambda wc: DIR_FAMILY[wc.fdir],
            solver=Q["separable"]["solver"],
            tol=Q["separable"]["tol"],
        ),
    shell:
        "python -m signgeom.quadratic.separable --hessians {input.hessians:q}"
        " --constants {input.constants:q} --solver {params.solver:q} --tol {params.tol:q}"
        " --out {output:q} 2> {log:q}"


rule bounds_family:
    input:
        family_input("separable.csv"),
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
        family=lambda wc: SUFFIX_FAMILY[wc.fsuffix],
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


TWO_D_PARAMS = {key: config["two_d"][key] for key in ("lambda_min", "lambda_max", "angles_deg")}


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
        **with_settings(**TWO_D_PARAMS),
    shell:
        "python -m signgeom.plotting.figure1 --lambda-min {params.lambda_min:q}"
        " --lambda-max {params.lambda_max:q} --angles-deg {params.angles_deg:q}"
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
        **with_settings(**TWO_D_PARAMS),
    shell:
        "python -m signgeom.plotting.figure4 --lambda-min {params.lambda_min:q}"
        " --lambda-max {params.lambda_max:q} --angles-deg {params.angles_deg:q}"
        " --out {output:q} 2> {log:q}"
