"""Smoke test of the SLURM execution path: snakemake + executor plugin + profile
against the real local cluster from cluster/local-slurm.sh (see conftest.py)."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

TOY_SNAKEFILE = textwrap.dedent(
    """
    rule summary:
        input: "out/remote.txt"
        output: "summary.txt"
        localrule: True
        shell: "echo local-job=${{SLURM_JOB_ID:-none}} > {output}; cat {input} >> {output}"

    rule remote:
        output: "out/remote.txt"
        threads: 1
        resources:
            runtime=lambda wildcards, attempt: 2 * attempt,
        shell: "echo slurm-job=$SLURM_JOB_ID partition=$SLURM_JOB_PARTITION > {output}"
    """
)


def test_cluster_runs_plain_sbatch(slurm_cluster, tmp_path):
    jid = slurm_cluster.sbatch(
        "-p", slurm_cluster.partition, "-o", str(tmp_path / "%j.out"), "--wrap", "hostname"
    )
    assert jid.isdigit()
    state = slurm_cluster.wait_for_state(jid, ("COMPLETED", "FAILED", "CANCELLED"), timeout=60)
    assert state == "COMPLETED"
    assert (tmp_path / f"{jid}.out").read_text().strip()


def test_cluster_schedules_gpu_requests(slurm_cluster, tmp_path):
    """The node's placeholder GPUs (gres.conf) are scheduled as a whole GPU or a shard."""
    node = slurm_cluster.slurm("scontrol", "show", "node").stdout
    assert "Gres=gpu:2,shard:4" in node.split(), node
    requests = {"--gpus=1": ("TresPerJob", "gres:gpu:1", "gpu:1")}
    requests["--gres=shard:1"] = ("TresPerNode", "gres:shard:1", "shard:1")
    jobs = {
        flag: slurm_cluster.sbatch(
            flag, "-o", str(tmp_path / "%j.out"), "--wrap", "echo $SLURM_GPUS_ON_NODE"
        )
        for flag in requests
    }
    for flag, jid in jobs.items():
        state = slurm_cluster.wait_for_state(jid, ("COMPLETED", "FAILED", "CANCELLED"), timeout=60)
        assert state == "COMPLETED"
        job = slurm_cluster.slurm("scontrol", "-d", "show", "job", jid).stdout.split()
        key, request, allocated = requests[flag]
        assert f"{key}={request}" in job and f"JOB_GRES={allocated}" in job, job
        assert (tmp_path / f"{jid}.out").read_text().strip() == "1"  # SLURM_GPUS_ON_NODE


def test_toy_workflow_through_slurm_plugin(slurm_cluster, tmp_path: Path):
    (tmp_path / "Snakefile").write_text(TOY_SNAKEFILE)
    t0 = time.monotonic()
    proc = slurm_cluster.run_snakemake([], cwd=tmp_path, timeout=600)
    elapsed = time.monotonic() - t0
    out = proc.stdout
    assert proc.returncode == 0, out[-8000:]

    # exactly one submission: the non-local rule; the localrule ran in-process
    subs = slurm_cluster.slurm_submissions(out)
    ids = slurm_cluster.slurm_job_ids(out)
    assert len(ids) == 1, out[-8000:]
    jid = ids[0]
    assert "localrule summary:" in out

    # the job really ran under SLURM as that job id, and SLURM says COMPLETED
    remote = (tmp_path / "out" / "remote.txt").read_text()
    assert f"slurm-job={jid} " in remote
    assert f"partition={slurm_cluster.partition}" in remote
    assert slurm_cluster.job_state(jid) == "COMPLETED"
    job = slurm_cluster.jobs()[jid]
    assert job["comment"].startswith("rule_remote")
    assert job["time_limit"] == "2:00"  # runtime lambda (attempt 1) -> sbatch -t 2

    # the plugin's log (kept: slurm-keep-successful-logs) in .snakemake/slurm_logs
    log = Path(subs[0]["log"])
    assert log == tmp_path / ".snakemake" / "slurm_logs" / "rule_remote" / f"{jid}.log"
    assert log.exists()

    summary = (tmp_path / "summary.txt").read_text()
    assert summary.startswith("local-job=none")  # the localrule did not run inside SLURM
    assert f"slurm-job={jid}" in summary
    start = slurm_cluster.start_seconds
    print(f"toy workflow through SLURM: {elapsed:.1f}s (cluster start {start:.1f}s)")
