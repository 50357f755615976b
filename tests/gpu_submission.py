"""The GPU part of a job's SLURM submission, as the SLURM executor plugin builds it.

Shared by the dry-run test (tests/test_workflow_gpu.py) and the real-cluster test
(tests/slurm/test_slurm_gpu.py): a small config whose jobs ask for a GPU, the job resources that
``snakemake -n`` prints, and the sbatch flags the plugin derives from them.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import yaml
from snakemake_executor_plugin_slurm.submit_string import get_submit_command
from snakemake_executor_plugin_slurm.utils import set_gres_string

from signgeom.workflow import REPO

PAPER_PROFILE = REPO / "profiles" / "slurm"
# Two cnn training jobs (one per optimizer) and the local step-size selection.
SELECTION_TARGET = "results/cifar/cnn/step_sizes.csv"


def gpu_config(path: Path, runs_per_gpu: int) -> Path:
    """Override of the quick preset: one GPU per job, one step size per optimizer, one epoch on
    the preset's 1,000 images (10 steps: enough for the loss to decrease, which selection
    requires; 3 steps on 300 images were not)."""
    override = {
        "cifar": {
            "data": {"test_limit": 100},
            "models": {
                "cnn": {
                    "epochs": 1,
                    "selection_epoch": 1,
                    "step_sizes": {"sgd": [0.01], "signsgd": [0.0001]},
                }
            },
        },
        "resources": {"gpu": 1, "runs_per_gpu": runs_per_gpu},
    }
    path.write_text(yaml.safe_dump(override))
    return path


_JOB_RE = re.compile(r"^(?:local)?rule (?P<rule>\w+):\n(?P<body>(?:    .*\n)+)", re.MULTILINE)


def _value(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def printed_resources(output: str) -> dict[str, list[dict]]:
    """{rule: [resources of each job]} from the job blocks that snakemake prints."""
    jobs: dict[str, list[dict]] = {}
    for match in _JOB_RE.finditer(output):
        fields = dict(
            line.strip().split(": ", 1) for line in match["body"].splitlines() if ": " in line
        )
        resources = dict(item.split("=", 1) for item in fields.get("resources", "").split(", "))
        resources = {k: _value(v) for k, v in resources.items() if k}
        resources["_threads"] = int(fields.get("threads", 1))
        jobs.setdefault(match["rule"], []).append(resources)
    return jobs


class _Resources(dict):
    """Job resources with attribute access, as the plugin reads them."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def plugin_sbatch_flags(rule: str, resources: dict) -> str:
    """The sbatch command (without --wrap) that the SLURM plugin builds for these resources."""
    res = _Resources({k: v for k, v in resources.items() if k != "_threads"})
    job = SimpleNamespace(resources=res, threads=resources["_threads"], name=rule)
    params = dict(
        run_uuid="RUN",
        slurm_logfile="LOG",
        comment_str=f"rule_{rule}",
        account=f"-A {res['slurm_account']}" if res.get("slurm_account") else "",
        partition=f"-p {res['slurm_partition']}" if res.get("slurm_partition") else "",
        workdir=None,
    )
    return get_submit_command(job, params) + set_gres_string(job)
