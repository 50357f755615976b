"""Configuration checks (before any job runs), the plan of the jobs, and outputs shared by the
rule files."""

import os
from pathlib import Path

from snakemake.exceptions import WorkflowError

from signgeom.config import (
    ConfigError,
    corpus_errors,
    drop_null_models,
    load_config_files,
    validate_config,
)
from signgeom.config_files import ConfigFileError
from signgeom.plan import Plan
from signgeom.plan.cifar import CDIR
from signgeom.plan.quadratic import FIGURE_EXTS, QDIR, one_of
from signgeom.workflow import dangling_output_links

# The checkout holding this Snakefile (provenance records its git state). The schema is the
# package's (signgeom.config.SCHEMA_PATH): validate_config checks it and the semantic rules.
REPO = Path(workflow.basedir)

# Snakemake read the config files (config.yaml and every --configfile: workflow.configfiles)
# with its own YAML loader, which keeps the last of duplicate keys and expands aliases; each is
# read again with signgeom's (signgeom.config_files), which refuses both, before the config
# itself is checked.
try:
    load_config_files(*workflow.configfiles)
    validate_config(config)
except (ConfigError, ConfigFileError) as err:
    raise WorkflowError(str(err)) from None
# Entries of cifar.models that an overlay set to null are gone from here on; a charlm model's
# text file must exist (a relative cifar.data.corpus is read from the checkout).
drop_null_models(config)
if _corpus_errors := corpus_errors(config["cifar"], REPO):
    raise WorkflowError("\n".join(_corpus_errors))

# A results/ (or figures/, logs/, ...) that is a dangling symbolic link: name it before any job
# fails below it.
if broken := dangling_output_links(Path.cwd()):
    raise WorkflowError("\n".join(broken))


# Every decision from the config (which jobs exist, their targets, params and resources) is
# the plan's (signgeom.plan, unit-tested without Snakemake); decisions made after the step-size
# selection read the cifar_select checkpoint's table.
PLAN = Plan(config, selection=lambda model: checkpoints.cifar_select.get(model=model).output[0])
QUAD = PLAN.quadratic


# Outputs named by several rule files.
FIGURE2 = QUAD.figures("figure2")
BOUNDS = QUAD.figures("bounds")
FIGURES_2D = [f"figures/{name}.{ext}" for name in ("figure1", "figure4") for ext in FIGURE_EXTS]
FIGURE3 = [f"figures/figure3.{ext}" for ext in FIGURE_EXTS]
CLAIMS_TABLE = f"{CDIR}/claims.csv"
SENSITIVITY_TABLE = f"{CDIR}/sensitivity.csv"
FIGURE_SENSITIVITY = [f"figures/sensitivity.{ext}" for ext in FIGURE_EXTS]


wildcard_constraints:
    fdir=one_of(QUAD.dir.values()),
    fsuffix=one_of(QUAD.suffix.values()),
