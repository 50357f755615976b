"""Beyond the paper: GD, perturbed GD, signGD (with and without momentum) and rescaled GD
through Du et al.'s tube of saddles, unrotated and Haar-rotated (Bernstein et al. 2018, Sec. 6,
Figure 1), with exact detection of periodic orbits -> table, objective traces -> figure.
"""

S = config["saddles"]
SDIR = "results/saddles"
SADDLES_RESULTS = [f"{SDIR}/saddles.csv", f"{SDIR}/traces.parquet"]
SADDLES_FIGURE = [f"figures/saddles.{ext}" for ext in FIGURE_EXTS]
SADDLES_OUTPUTS = SADDLES_RESULTS + SADDLES_FIGURE
TUBE_PARAMS = {key: S[key] for key in ("dim", "L", "gamma", "tau")}


rule saddles_runs:
    output:
        table=report(
            f"{SDIR}/saddles.csv",
            caption="../report/saddles_table.rst",
            category="Beyond the paper: saddles",
            subcategory="Table",
        ),
        traces=f"{SDIR}/traces.parquet",
    log:
        "logs/saddles/runs.log",
    benchmark:
        "benchmarks/saddles/runs.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **TUBE_PARAMS,
        init_radius=S["init_radius"],
        rotations=S["rotations"],
        steps=S["steps"],
        seed=config["seed"],
        momentum=S["momentum"],
        step_sizes=[f"{name}={lr}" for name, lr in S["step_sizes"].items()],
        radius=S["perturbation"]["radius"],
        grad_threshold=S["perturbation"]["grad_threshold"],
        interval=S["perturbation"]["interval"],
    shell:
        "python -m signgeom.quadratic.saddle_runs --dim {params.dim:q} --L {params.L:q}"
        " --gamma {params.gamma:q} --tau {params.tau:q} --init-radius {params.init_radius:q}"
        " --rotations {params.rotations:q} --steps {params.steps:q} --seed {params.seed:q}"
        " --momentum {params.momentum:q} --step-sizes {params.step_sizes:q}"
        " --pgd-radius {params.radius:q} --pgd-grad-threshold {params.grad_threshold:q}"
        " --pgd-interval {params.interval:q}"
        " --out-table {output.table:q} --out-traces {output.traces:q} 2> {log:q}"


rule saddles_figure:
    input:
        table=rules.saddles_runs.output.table,
        traces=rules.saddles_runs.output.traces,
    output:
        report(
            SADDLES_FIGURE,
            caption="../report/saddles.rst",
            category="Beyond the paper: saddles",
            subcategory="Figure",
        ),
    log:
        "logs/figures/saddles.log",
    benchmark:
        "benchmarks/figures/saddles.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **TUBE_PARAMS,
    shell:
        "python -m signgeom.plotting.saddles --table {input.table:q} --traces {input.traces:q}"
        " --dim {params.dim:q} --L {params.L:q} --gamma {params.gamma:q} --tau {params.tau:q}"
        " --out {output:q} 2> {log:q}"


rule saddles:
    """Target: the saddles table and figure."""
    input:
        SADDLES_OUTPUTS,
    localrule: True
