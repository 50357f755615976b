"""signgeom: regenerate the figures of "The Geometry of Sign Gradient Descent".

snakemake --cores N                                      # paper scale (config.yaml)
snakemake --cores 2 --configfile presets/quick.yaml      # quick preset
"""

from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The defaults live next to this Snakefile, so the workflow also runs with --directory.
configfile: str(Path(workflow.basedir) / "config.yaml")


# Global description of the HTML report (snakemake --report report.html).
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/quadratic.smk"
include: "workflow/rules/cifar_common.smk"
include: "workflow/rules/cifar.smk"
include: "workflow/rules/family_common.smk"
include: "workflow/rules/family.smk"
include: "workflow/rules/hessian.smk"
include: "workflow/rules/saddles.smk"
include: "workflow/rules/rotation_common.smk"
include: "workflow/rules/rotation.smk"
include: "workflow/rules/transformer_common.smk"
include: "workflow/rules/transformer.smk"
include: "workflow/rules/noise_common.smk"
include: "workflow/rules/noise.smk"
include: "workflow/rules/provenance.smk"


# Every output documented in the README, and every file a table is built from (the per-model
# selections, smoothness shards and Hessian tables), is a target, so a deleted one is rebuilt on
# rerun (Snakemake does not recreate a missing intermediate file whose consumers are up to date).
rule all:
    default_target: True
    input:
        FIGURES_2D,
        FIGURE2,
        BOUNDS,
        FIGURE3,
        FIGURE3_CLAIMS,
        FIGURE_SENSITIVITY if SENS["models"] else [],
        FAMILY_TARGETS,
        HESSIAN_FIGURES,
        SADDLES_OUTPUTS,
        ROTATION_OUTPUTS,
        TRANSFORMER_TARGETS,
        THEORY_NOISE,
        PROVENANCE_FILES,
        PROVENANCE_INPUTS,
        CIFAR.grid_runs(),
        rules.cifar_tables.input,
        rules.cifar_hessian_tables.input if HESS["models"] else [],
