"""Beyond the paper: GD, perturbed GD, signGD (with and without momentum) and rescaled GD
through Du et al.'s tube of saddles, unrotated and Haar-rotated (Bernstein et al. 2018, Sec. 6,
Figure 1), with exact detection of periodic orbits -> table, objective traces -> figure.
Settings: signgeom.quadratic.settings (SaddleRunsSettings, TubeSettings).
"""

from signgeom.quadratic.settings import SaddleRunsSettings, TubeSettings

SDIR = "results/saddles"
SADDLES_RESULTS = [f"{SDIR}/saddles.csv", f"{SDIR}/traces.parquet"]
SADDLES_FIGURE = [f"figures/saddles.{ext}" for ext in FIGURE_EXTS]
SADDLES_OUTPUTS = SADDLES_RESULTS + SADDLES_FIGURE


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
        **PLAN.params(SaddleRunsSettings),
    shell:
        "python -m signgeom.quadratic.saddle_runs --settings {params.settings:q}"
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
        **PLAN.params(TubeSettings),
    shell:
        "python -m signgeom.plotting.saddles --settings {params.settings:q}"
        " --table {input.table:q} --traces {input.traces:q} --out {output:q} 2> {log:q}"


rule saddles:
    """Target: the saddles table and figure."""
    input:
        SADDLES_OUTPUTS,
    localrule: True
