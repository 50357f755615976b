"""Figure 2: Hessian grid -> exact smoothness constants -> GD/signGD runs -> summary -> figure.

The quadratic stage is vectorised: one job per step, all in the SLURM group "quadratic", so a
cluster run submits it as one job, never thousands.
"""

Q = config["quadratic"]
QDIR = "results/quadratic"
FIGURE2 = ["figures/figure2.pdf", "figures/figure2.png"]
QUAD_THREADS = config["resources"]["quadratic"]["cpus"]
# CPUs via threads (not cpus_per_task, which SLURM group jobs sum over their members).
QUAD_RESOURCES = dict(
    mem_mb=config["resources"]["quadratic"]["mem_mb"],
    runtime=runtime_for("quadratic"),
)


rule quadratic_hessians:
    output:
        f"{QDIR}/hessians.npz",
    log:
        "logs/quadratic/hessians.log",
    benchmark:
        "benchmarks/quadratic/hessians.tsv"
    group:
        "quadratic"
    conda:
        "../envs/signgeom.yaml"
    threads: QUAD_THREADS
    resources:
        **QUAD_RESOURCES,
    params:
        dim=Q["dim"],
        family=Q["family"],
        theta=f"{Q['theta']['min']} {Q['theta']['max']} {Q['theta']['num']}",
        ratio=f"{Q['lambda_ratio']['min']} {Q['lambda_ratio']['max']} {Q['lambda_ratio']['num']}",
        rotations=Q["rotations"],
        seed=config["seed"],
    shell:
        "python -m signgeom.quadratic.hessians --dim {params.dim} --theta {params.theta}"
        " --ratio {params.ratio} --rotations {params.rotations} --seed {params.seed}"
        " --out {output} 2> {log}"


rule quadratic_constants:
    input:
        rules.quadratic_hessians.output,
    output:
        f"{QDIR}/constants.csv",
    log:
        "logs/quadratic/constants.log",
    benchmark:
        "benchmarks/quadratic/constants.tsv"
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
        "python -m signgeom.quadratic.constants --hessians {input}"
        " --max-exact-dim {params.max_exact_dim} --out {output} 2> {log}"


rule quadratic_runs:
    input:
        hessians=rules.quadratic_hessians.output,
        constants=rules.quadratic_constants.output,
    output:
        f"{QDIR}/runs.parquet",
    log:
        "logs/quadratic/runs.log",
    benchmark:
        "benchmarks/quadratic/runs.tsv"
    group:
        "quadratic"
    conda:
        "../envs/signgeom.yaml"
    threads: QUAD_THREADS
    resources:
        **QUAD_RESOURCES,
    params:
        starts=Q["starts"],
        steps=Q["steps"],
        seed=config["seed"],
        starts_per_rotation=Q["starts_per_rotation"],
    shell:
        "python -m signgeom.quadratic.runs --hessians {input.hessians} --constants {input.constants}"
        " --starts {params.starts} --steps {params.steps} --seed {params.seed}"
        " --starts-per-rotation {params.starts_per_rotation} --out {output} 2> {log}"


rule quadratic_summary:
    input:
        constants=rules.quadratic_constants.output,
        runs=rules.quadratic_runs.output,
    output:
        report(
            f"{QDIR}/summary.csv",
            caption="../report/summary.rst",
            category="Figure 2",
            subcategory="Tables",
        ),
    log:
        "logs/quadratic/summary.log",
    benchmark:
        "benchmarks/quadratic/summary.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        aggregate=Q["aggregate"],
        resamples=Q["bootstrap"]["resamples"],
        level=Q["bootstrap"]["level"],
        seed=config["seed"],
    shell:
        "python -m signgeom.quadratic.summary --constants {input.constants} --runs {input.runs}"
        " --aggregate {params.aggregate} --resamples {params.resamples} --level {params.level}"
        " --seed {params.seed} --out {output} 2> {log}"


rule figure2:
    input:
        rules.quadratic_summary.output,
    output:
        report(FIGURE2, caption="../report/figure2.rst", category="Figure 2", subcategory="Figure"),
    log:
        "logs/figures/figure2.log",
    benchmark:
        "benchmarks/figures/figure2.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    shell:
        "python -m signgeom.plotting.figure2 --summary {input} --out {output} 2> {log}"
