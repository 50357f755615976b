"""Figure 2: Hessian grid -> exact smoothness constants -> GD/signGD runs -> summary -> figure.

The quadratic stage is vectorised: one job per step, all in the SLURM group "quadratic", so a
cluster run submits it as one job, never thousands.
"""

Q = config["quadratic"]
QDIR = "results/quadratic"
FIGURE2 = ["figures/figure2.pdf", "figures/figure2.png"]
QUAD_RESOURCES = dict(
    mem_mb=config["resources"]["quadratic"]["mem_mb"],
    cpus_per_task=config["resources"]["quadratic"]["cpus"],
    runtime=runtime_for("quadratic"),
)


rule quadratic_hessians:
    output:
        f"{QDIR}/hessians.npz",
    params:
        dim=Q["dim"],
        theta=f"{Q['theta']['min']} {Q['theta']['max']} {Q['theta']['num']}",
        ratio=f"{Q['lambda_ratio']['min']} {Q['lambda_ratio']['max']} {Q['lambda_ratio']['num']}",
        rotations=Q["rotations"],
        seed=config["seed"],
    log:
        "logs/quadratic/hessians.log",
    benchmark:
        "benchmarks/quadratic/hessians.tsv"
    group:
        "quadratic"
    resources:
        **QUAD_RESOURCES,
    shell:
        "{PY} signgeom.quadratic.hessians --dim {params.dim} --theta {params.theta}"
        " --ratio {params.ratio} --rotations {params.rotations} --seed {params.seed}"
        " --out {output} 2> {log}"


rule quadratic_constants:
    input:
        rules.quadratic_hessians.output,
    output:
        f"{QDIR}/constants.csv",
    params:
        max_exact_dim=Q["max_exact_dim"],
    log:
        "logs/quadratic/constants.log",
    benchmark:
        "benchmarks/quadratic/constants.tsv"
    group:
        "quadratic"
    resources:
        **QUAD_RESOURCES,
    shell:
        "{PY} signgeom.quadratic.constants --hessians {input}"
        " --max-exact-dim {params.max_exact_dim} --out {output} 2> {log}"


rule quadratic_runs:
    input:
        hessians=rules.quadratic_hessians.output,
        constants=rules.quadratic_constants.output,
    output:
        f"{QDIR}/runs.parquet",
    params:
        starts=Q["starts"],
        steps=Q["steps"],
        seed=config["seed"],
    log:
        "logs/quadratic/runs.log",
    benchmark:
        "benchmarks/quadratic/runs.tsv"
    group:
        "quadratic"
    resources:
        **QUAD_RESOURCES,
    shell:
        "{PY} signgeom.quadratic.runs --hessians {input.hessians} --constants {input.constants}"
        " --starts {params.starts} --steps {params.steps} --seed {params.seed}"
        " --out {output} 2> {log}"


rule quadratic_summary:
    input:
        constants=rules.quadratic_constants.output,
        runs=rules.quadratic_runs.output,
    output:
        f"{QDIR}/summary.csv",
    params:
        aggregate=Q["aggregate"],
    log:
        "logs/quadratic/summary.log",
    benchmark:
        "benchmarks/quadratic/summary.tsv"
    localrule: True
    shell:
        "{PY} signgeom.quadratic.summary --constants {input.constants} --runs {input.runs}"
        " --aggregate {params.aggregate} --out {output} 2> {log}"


rule figure2:
    input:
        rules.quadratic_summary.output,
    output:
        FIGURE2,
    log:
        "logs/figures/figure2.log",
    benchmark:
        "benchmarks/figures/figure2.tsv"
    localrule: True
    shell:
        "{PY} signgeom.plotting.figure2 --summary {input} --out {output} 2> {log}"
