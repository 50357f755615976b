"""Provenance next to every output: results/quadratic, results/cifar, results/saddles and figures
each get a provenance.json (resolved config, seeds, package versions, git commit, host, time,
file hashes).

The rule is local and cheap and depends only on the files it describes, so it never makes an
expensive job rerun; it is rewritten whenever those files or the configuration change.
"""

from signgeom.provenance import write_provenance

PROVENANCE = {
    QDIR: QUADRATIC_RESULTS,
    CDIR: list(rules.cifar_tables.output)
    + FIGURE3_CLAIMS
    + TRANSFORMER_TARGETS
    + ([SENSITIVITY_TABLE] if SENS["models"] else [])
    + (list(rules.cifar_hessian_tables.output) if HESS["models"] else [])
    + FAMILY_TABLE_TARGETS
    + ROTATION_TABLES,
    SDIR: SADDLES_RESULTS,
    TDIR: NOISE_DIMENSION_TABLES + MAJORITY_VOTE_TABLES,
    "figures": FIGURES_2D
    + FIGURE2
    + BOUNDS
    + FIGURE3
    + (FIGURE_SENSITIVITY if SENS["models"] else [])
    + HESSIAN_FIGURES
    + SADDLES_FIGURE
    + FAMILY_TARGETS
    + ROTATION_FIGURES
    + FIGURE_NOISE_DIMENSION
    + FIGURE_MAJORITY_VOTE,
}
PROVENANCE_FILES = [f"{where}/provenance.json" for where in PROVENANCE]
# Every file provenance describes (targets of `rule all`).
PROVENANCE_INPUTS = [path for paths in PROVENANCE.values() for path in paths]


rule provenance:
    input:
        lambda wc: PROVENANCE[wc.where],
    output:
        "{where}/provenance.json",
    log:
        "logs/provenance/{where}.log",
    benchmark:
        "benchmarks/provenance/{where}.tsv"
    wildcard_constraints:
        where="|".join(PROVENANCE),
    localrule: True
    params:
        **PLAN.params(config=config),
    run:
        # The repository and config file paths are read here, not params: params holding
        # absolute paths would rerun this rule whenever the checkout moves.
        configfiles = [str(p) for p in workflow.configfiles]
        write_provenance(output[0], params.config, str(REPO), input, configfiles, log[0])
