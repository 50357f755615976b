"""Fixtures and helpers for tests against a REAL local one-node SLURM cluster.

The session-scoped ``slurm_cluster`` fixture starts the cluster with
``cluster/local-slurm.sh start --install`` (root only; installs slurm-wlm and
munge with apt-get when missing) and always stops it at the end of the session,
also when tests fail (set ``SIGNGEOM_SLURM_KEEP=1`` to leave it running).

These tests run only when asked (``SIGNGEOM_SLURM=1``; tests/conftest.py skips them
otherwise). The fixture then skips when not root or when the packages can't be installed,
unless ``SIGNGEOM_REQUIRE_SLURM=1`` is set, in which case it fails.

The fixture returns a :class:`SlurmCluster` with the helpers the workflow tests
use::

    def test_x(slurm_cluster, tmp_path):
        proc = slurm_cluster.run_snakemake(["--cores", "2", "target"], cwd=tmp_path)
        ids = slurm_job_ids(proc.stdout)            # or slurm_cluster.slurm_job_ids
        bg = slurm_cluster.popen_snakemake([...], cwd=tmp_path, log=tmp_path / "run.log")
        jid = slurm_cluster.wait_for_submitted_job(tmp_path / "run.log", rule="train")
        slurm_cluster.wait_for_state(jid, "RUNNING")
        slurm_cluster.scancel(jid)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "cluster" / "local-slurm.sh"
LOCAL_TEST_PROFILE = REPO_ROOT / "profiles" / "slurm-local-test"
STATE_DIR = Path(os.environ.get("SIGNGEOM_SLURM_STATE", "/tmp/signgeom-slurm"))

# "Job 2 has been submitted with SLURM jobid 3 (log: /x/.snakemake/slurm_logs/rule_a/3.log)."
# (for group jobs the snakemake "Job" id is a UUID)
_SUBMITTED_RE = re.compile(
    r"Job (?P<job>\S+) has been submitted with SLURM jobid (?P<slurm>\d+)"
    r"(?: \(log: (?P<log>[^)]*)\))?"
)


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def slurm_job_ids(text: str) -> list[str]:
    """SLURM job ids (in submission order, unique) from snakemake's output/log."""
    seen: dict[str, None] = {}
    for m in _SUBMITTED_RE.finditer(text):
        seen.setdefault(m.group("slurm"), None)
    return list(seen)


def slurm_submissions(text: str) -> list[dict[str, str | None]]:
    """[{'job': snakemake job id, 'slurm': SLURM job id, 'log': SLURM log path}, ...]"""
    return [m.groupdict() for m in _SUBMITTED_RE.finditer(text)]


@dataclass
class SlurmCluster:
    conf: Path
    partition: str = "debug"
    profile: Path = LOCAL_TEST_PROFILE
    start_seconds: float = 0.0
    start_output: str = ""
    env: dict[str, str] = field(default_factory=dict)

    # -- plain SLURM helpers -------------------------------------------------
    slurm_job_ids = staticmethod(slurm_job_ids)
    slurm_submissions = staticmethod(slurm_submissions)

    def slurm(self, *args: str, check: bool = True, timeout: float = 60):
        """Run a SLURM client command (sbatch, squeue, ...) against this cluster."""
        return subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, check=check, timeout=timeout
        )

    def sbatch(self, *args: str) -> str:
        return self.slurm("sbatch", "--parsable", *args).stdout.strip().split(";")[0]

    def job_state(self, jobid: str | int) -> str | None:
        """Current state (RUNNING, PENDING, COMPLETED, CANCELLED, FAILED, ...) or None.

        Finished jobs stay visible for MinJobAge (3600 s) since there is no slurmdbd.
        """
        out = self.slurm(
            "squeue",
            "--states=all",
            "--noheader",
            "--format=%i|%T",
            "--jobs",
            str(jobid),
            check=False,
        ).stdout
        for line in out.splitlines():
            jid, _, state = line.partition("|")
            if jid.strip() == str(jobid):
                return state.strip()
        return None

    def jobs(self) -> dict[str, dict[str, str]]:
        """All jobs squeue knows: {jobid: {state, name, comment, time_limit}}."""
        out = self.slurm(
            "squeue", "--states=all", "--noheader", "--format=%i|%T|%j|%k|%l", check=False
        ).stdout
        res = {}
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) == 5:
                res[parts[0].strip()] = dict(
                    state=parts[1], name=parts[2], comment=parts[3], time_limit=parts[4]
                )
        return res

    def wait_for_state(
        self, jobid: str | int, states: str | tuple[str, ...] = "RUNNING", timeout: float = 120
    ) -> str:
        """Wait until the job is in one of ``states``; returns the state (TimeoutError if not)."""
        if isinstance(states, str):
            states = (states,)
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.job_state(jobid)
            if state in states:
                return state
            time.sleep(0.5)
        raise TimeoutError(f"SLURM job {jobid} not in {states} after {timeout}s (last: {state})")

    def wait_for_running(self, jobid: str | int, timeout: float = 120) -> str:
        return self.wait_for_state(jobid, "RUNNING", timeout)

    def scancel(self, jobid: str | int, *args: str) -> None:
        self.slurm("scancel", *args, str(jobid))

    # -- snakemake helpers -------------------------------------------------------
    def snakemake_cmd(self, args, profile: Path | str | None = None) -> list[str]:
        prof = self.profile if profile is None else profile
        cmd = [sys.executable, "-m", "snakemake"]
        if prof:
            cmd += ["--profile", str(prof)]
        return cmd + [str(a) for a in args]

    def run_snakemake(
        self,
        args,
        cwd,
        *,
        profile: Path | str | None = None,
        timeout: float = 900,
        check: bool = False,
    ) -> subprocess.CompletedProcess:
        """Run snakemake with the local-test profile; stdout holds stdout+stderr."""
        proc = subprocess.run(
            self.snakemake_cmd(args, profile),
            cwd=cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"snakemake failed (rc={proc.returncode}):\n{proc.stdout[-8000:]}")
        return proc

    def popen_snakemake(
        self, args, cwd, log: Path, *, profile: Path | str | None = None
    ) -> subprocess.Popen:
        """Start snakemake in the background, output to ``log`` (for scancel tests).

        Stop it with ``proc.send_signal(signal.SIGINT)`` (it cancels its SLURM jobs)
        and ``proc.wait()``.
        """
        fh = open(log, "w")
        try:
            return subprocess.Popen(
                self.snakemake_cmd(args, profile),
                cwd=cwd,
                env=self.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                text=True,
            )
        finally:
            fh.close()

    def wait_for_submitted_job(
        self,
        log: Path,
        rule: str | None = None,
        timeout: float = 180,
        n: int = 1,
        proc: subprocess.Popen | None = None,
    ) -> str:
        """Wait until snakemake (writing to ``log``) reported its n-th SLURM submission
        (of ``rule``, matched on the SLURM log path ``rule_<rule>/``); returns the job id.
        With ``proc`` (that snakemake process), fail at once if it exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = Path(log).read_text() if Path(log).exists() else ""
            if proc is not None and proc.poll() is not None and not slurm_submissions(text):
                raise AssertionError(f"snakemake exited ({proc.returncode}):\n{text[-4000:]}")
            subs = slurm_submissions(text)
            if rule is not None:
                subs = [s for s in subs if s["log"] and f"/rule_{rule}/" in s["log"]]
            if len(subs) >= n:
                return subs[n - 1]["slurm"]
            time.sleep(0.5)
        raise TimeoutError(f"no SLURM submission #{n} (rule={rule}) in {log} after {timeout}s")


def _script(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "SIGNGEOM_SLURM_STATE": str(STATE_DIR)},
    )


def _skip_or_fail(reason: str):
    if _truthy("SIGNGEOM_REQUIRE_SLURM"):
        pytest.fail(f"SIGNGEOM_REQUIRE_SLURM=1 but: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running local one-node SLURM cluster (partition ``debug``); stopped at session end."""
    if os.name != "posix" or os.geteuid() != 0:
        _skip_or_fail("local SLURM cluster needs root (starts slurmctld/slurmd/munged)")
    if shutil.which("bash") is None:
        _skip_or_fail("bash not found")

    t0 = time.monotonic()
    started = _script("start", "--install")
    elapsed = time.monotonic() - t0
    output = started.stdout + started.stderr
    try:
        if started.returncode == 2:
            # not root / packages missing and not installable
            _skip_or_fail(f"local SLURM cluster unavailable: {output.strip()[-2000:]}")
        if started.returncode != 0:
            pytest.fail(
                f"cluster/local-slurm.sh start failed (rc={started.returncode}):\n{output[-6000:]}",
                pytrace=False,
            )
        conf = STATE_DIR / "etc" / "slurm.conf"
        env = {**os.environ, "SLURM_CONF": str(conf)}
        # no stale SLURM job context from an outer allocation
        for k in [k for k in env if k.startswith("SLURM_") and k != "SLURM_CONF"]:
            del env[k]
        cluster = SlurmCluster(
            conf=conf,
            partition=os.environ.get("SIGNGEOM_SLURM_PARTITION", "debug"),
            start_seconds=elapsed,
            start_output=output,
            env=env,
        )
        yield cluster
    finally:
        if not _truthy("SIGNGEOM_SLURM_KEEP"):
            stopped = _script("stop", timeout=120)
            if stopped.returncode != 0:
                print(f"WARNING: local-slurm.sh stop failed:\n{stopped.stdout}{stopped.stderr}")
