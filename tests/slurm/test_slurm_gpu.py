"""GPU jobs of the paper-scale profile through real sbatch on the local cluster.

The local cluster's node has placeholder GPUs (``Gres=gpu:2,shard:4``, cluster/local-slurm.sh).
The profile is ``profiles/slurm`` with only its cluster-specific values replaced (partition,
no account, small limits and short polling). With ``resources.runs_per_gpu: 2`` the two cnn
training jobs ask for a GPU shard each and run (on the CPU) to completion. One workflow run of
one SLURM stage serves every assertion: the plugin's status polling backs off by 10 s per poll.
The whole-GPU request (``--gpus=1``, runs_per_gpu 1 and the smoothness jobs) is checked in the
plugin's sbatch command by tests/test_workflow_gpu.py and through plain sbatch in
test_slurm_smoke.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpu_submission import PAPER_PROFILE, SELECTION_TARGET, gpu_config  # noqa: E402
from slurm.conftest import slurm_submissions  # noqa: E402
from workflow_helpers import QUICK, SNAKEFILE  # noqa: E402

pytestmark = pytest.mark.slurm

# Values of profiles/slurm that name the real cluster or suit long jobs; the rest is kept.
LOCAL_SETTINGS = {
    "jobs": 4,
    "cores": 2,
    "local-cores": 1,
    "latency-wait": 10,
    "seconds-between-status-checks": 2,
    "slurm-init-seconds-before-status-checks": 2,
}


def paper_profile_on(cluster_partition: str, dest: Path) -> Path:
    """profiles/slurm with the local partition, no account and the local limits."""
    profile = yaml.safe_load((PAPER_PROFILE / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert {"cifar_train", "cifar_smoothness"} <= set(profile["set-resources"])
    partition = f"'{cluster_partition}'"
    profile["default-resources"] = {
        "slurm_partition": partition,
        "runtime": "5*attempt",
        "mem_mb": 500,
    }
    for rule_resources in profile["set-resources"].values():
        rule_resources["slurm_partition"] = partition
    profile.update(LOCAL_SETTINGS)
    dest.mkdir()
    (dest / "config.yaml").write_text(yaml.safe_dump(profile))
    return dest


def sbatch_calls(text: str) -> dict[str, list[str]]:
    """{rule: [sbatch flags before --wrap]} from the plugin's debug log (--verbose)."""
    calls: dict[str, list[str]] = {}
    for line in re.findall(r"sbatch call: (sbatch .*?) --wrap=", text):
        rule = re.search(r"--comment '?rule_(\w+?)(?:_wildcards_\S*)?'?\s", line)
        calls.setdefault(rule.group(1), []).append(line)
    return calls


def scontrol_job(cluster, jobid: str) -> dict[str, str]:
    """First value of every ``Key=value`` field of ``scontrol -d show job``."""
    text = cluster.slurm("scontrol", "-d", "show", "job", jobid).stdout
    fields: dict[str, str] = {}
    for key, value in re.findall(r"(\w+)=(\S*)", text):
        fields.setdefault(key, value)
    return fields


def test_paper_profile_gpu_jobs_run_through_sbatch(slurm_cluster, tmp_path):
    profile = paper_profile_on(slurm_cluster.partition, tmp_path / "profile")
    workdir = tmp_path / "run"
    workdir.mkdir()
    config = gpu_config(tmp_path / "gpu.yaml", runs_per_gpu=2)
    proc = slurm_cluster.run_snakemake(
        [SELECTION_TARGET, "-s", SNAKEFILE, "-d", workdir, "--verbose", "--configfile", QUICK]
        + [config],
        cwd=workdir,
        profile=profile,
        timeout=600,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-6000:]

    # The plugin's sbatch commands: one GPU shard per training job, no whole GPU.
    calls = sbatch_calls(out)
    assert set(calls) == {"cifar_train"} and len(calls["cifar_train"]) == 2, calls
    for call in calls["cifar_train"]:
        flags = call.split()
        assert "--gres=shard:1" in flags and not any(f.startswith("--gpus") for f in flags), call
        assert flags[flags.index("-p") + 1] == slurm_cluster.partition and "-A" not in flags
        print(call)

    # SLURM accepted, allocated and completed them with a shard of a GPU.
    submissions = slurm_submissions(out)
    assert len(submissions) == 2
    for sub in submissions:
        assert "/rule_cifar_train/" in sub["log"]
        job = scontrol_job(slurm_cluster, sub["slurm"])
        assert job["JobState"] == "COMPLETED", job
        assert job["TresPerNode"] == "gres:shard:1" and job["JOB_GRES"] == "shard:1", job

    statuses = sorted((workdir / "results" / "cifar" / "runs" / "cnn").glob("*/*/status.json"))
    assert len(statuses) == 2
    assert all(json.loads(path.read_text())["status"] == "completed" for path in statuses)
    assert (workdir / SELECTION_TARGET).exists()  # the local selection read both runs
