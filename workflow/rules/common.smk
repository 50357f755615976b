"""Configuration checks (before any job runs) and helpers shared by the rules."""

import json
import os
import re
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


def runtime_for(kind):
    """Runtime in minutes for a job kind, growing with each retry (attempt 1, 2, ...)."""
    base = config["resources"][kind]["runtime_min"]
    return lambda wildcards, attempt: base * attempt


def with_settings(**params):
    """``params`` plus ``settings``: their canonical JSON, names included (callables, which
    take the wildcards, evaluated per job).

    Snakemake's params rerun trigger compares the *set* of a job's param values, names dropped,
    so a changed value that equals another param's (epochs 1 -> 2 next to a stride of 2) went
    unnoticed; the JSON of all of them changes with any one, so the job reruns.
    """

    def settings(wildcards):
        values = {k: v(wildcards) if callable(v) else v for k, v in params.items()}
        return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)

    return dict(params, settings=settings)


def settings_json(cls, **per_job):
    """Params function: the JSON of one job's ``cls`` settings (a ``signgeom.settings.Settings``)
    built from the config and ``per_job`` values (callables take the wildcards): the job's one
    ``--settings`` argument, which changes with any of its values, so the job reruns."""

    def settings(wildcards):
        values = {k: v(wildcards) if callable(v) else v for k, v in per_job.items()}
        return cls.from_config(config, **values).to_json()

    return settings


# Spectrum families (quadratic.families): the first keeps the plain paths, every other family
# gets a subdirectory of results/quadratic and a suffix _<family> on its figures
# (wildcards: fdir is "" or "<family>/", fsuffix is "" or "_<family>").
Q = config["quadratic"]
QDIR = "results/quadratic"
FAMILIES = Q["families"]
FAMILY_DIR = {f: "" if i == 0 else f"{f}/" for i, f in enumerate(FAMILIES)}
FAMILY_SUFFIX = {f: "" if i == 0 else f"_{f}" for i, f in enumerate(FAMILIES)}
DIR_FAMILY = {v: f for f, v in FAMILY_DIR.items()}
SUFFIX_FAMILY = {v: f for f, v in FAMILY_SUFFIX.items()}
FIGURE_EXTS = ["pdf", "png"]


def family_figures(name):
    """One figure of every family: figures/<name><suffix>.{pdf,png}."""
    return [f"figures/{name}{s}.{ext}" for s in FAMILY_SUFFIX.values() for ext in FIGURE_EXTS]


def family_results(name):
    """One result file of every family: results/quadratic/<fdir><name>."""
    return [f"{QDIR}/{d}{name}" for d in FAMILY_DIR.values()]


def family_input(name):
    """Input function: the result file of the family named by the job's fsuffix wildcard."""
    return lambda wc: f"{QDIR}/{FAMILY_DIR[SUFFIX_FAMILY[wc.fsuffix]]}{name}"


# Outputs named by several rule files.
CDIR = "results/cifar"
FIGURE2 = family_figures("figure2")
BOUNDS = family_figures("bounds")
FIGURES_2D = [f"figures/{name}.{ext}" for name in ("figure1", "figure4") for ext in FIGURE_EXTS]
FIGURE3 = [f"figures/figure3.{ext}" for ext in FIGURE_EXTS]
CLAIMS_TABLE = f"{CDIR}/claims.csv"
SENSITIVITY_TABLE = f"{CDIR}/sensitivity.csv"
FIGURE_SENSITIVITY = [f"figures/sensitivity.{ext}" for ext in FIGURE_EXTS]


def one_of(values):
    """A wildcard regex matching exactly these strings (the empty one included)."""
    alternatives = "|".join(re.escape(v) for v in values)
    return f"(?:{alternatives})"


wildcard_constraints:
    fdir=one_of(FAMILY_DIR.values()),
    fsuffix=one_of(FAMILY_SUFFIX.values()),
