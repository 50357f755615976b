"""Configuration checks (before any job runs) and helpers shared by the rules."""

import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from signgeom.config import ConfigError, validate_config

REPO = Path(workflow.basedir)
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

try:
    validate_config(config, SCHEMA)
except ConfigError as err:
    raise WorkflowError(str(err)) from None
validate(config, str(SCHEMA))


def runtime_for(kind):
    """Runtime in minutes for a job kind, growing with each retry (attempt 1, 2, ...)."""
    base = config["resources"][kind]["runtime_min"]
    return lambda wildcards, attempt: base * attempt
