"""Figure 3: the data check, the plan's Figure 3 part and the GPU slots of local runs.

Kept apart from the rules in cifar.smk (Snakemake's linter asks not to mix rules and functions).
"""

from snakemake.logging import logger

from signgeom.analysis.settings import ClaimSettings
from signgeom.estimate.estimate_settings import (
    HessianSettings,
    SensitivitySettings,
    SmoothnessSettings,
)
from signgeom.plan.cifar import (
    CHARLM_CORPUS,
    CIFAR_BATCHES,
    RUN_WILDCARDS,
    TRAJECTORY_WILDCARDS,
)
from signgeom.plan.params import none_flag, wildcard
from signgeom.tasks.cifar.data import local_source_problems
from signgeom.training.rundir import RunDir
from signgeom.training.runid import run_key_pattern

C = config["cifar"]
CIFAR = PLAN.cifar
# A cifar.data.local_dir that holds no copy stops the workflow here, before the data job
# (signgeom.tasks.cifar.data.local_source_problems says why); one that names another checkout's
# data is reported.
_errors, _warnings = local_source_problems(C["data"]["source"], C["data"].get("local_dir"), REPO)
for _warning in _warnings:
    logger.warning(f"warning: {_warning}")
if _errors:
    raise WorkflowError("\n".join(_errors))
SMOOTH = C["smoothness"]
SENS = C["sensitivity"]
CLAIMS = C["claims"]
# The paper's claims table, where a model it has claims about is configured.
FIGURE3_CLAIMS = [CLAIMS_TABLE] if CIFAR.figure3_claims else []

# Locally, --resources gpu=N also caps gpu_slots at N x runs_per_gpu (unless given).
if "gpu" in workflow.global_resources and "gpu_slots" not in workflow.global_resources:
    _gpu_limit = workflow.global_resources["gpu"].value
    if isinstance(_gpu_limit, int):
        workflow.register_resource("gpu_slots", _gpu_limit * PLAN.resources.runs_per_gpu)
