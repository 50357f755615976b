"""GPU requests of the Figure 3 jobs, without a cluster.

* ``snakemake -n --profile profiles/slurm``: a training job asks for a whole GPU
  (``--gpus=1``) when ``resources.runs_per_gpu`` is 1 and for a GPU shard
  (``--gres=shard:1``, and no ``--gpus``) when runs share a GPU, in the sbatch command that the
  SLURM plugin builds from the job's resources.
* Locally, ``--resources gpu=N`` provides ``gpu_slots = N x runs_per_gpu``.
"""

from __future__ import annotations

import re

import pytest

from gpu_submission import (
    PAPER_PROFILE,
    SELECTION_TARGET,
    gpu_config,
    plugin_sbatch_flags,
    printed_resources,
)
from workflow_helpers import QUICK, snakemake


@pytest.mark.parametrize(
    "runs_per_gpu, wanted, unwanted",
    [(1, "--gpus=1", "--gres"), (4, "--gres=shard:1", "--gpus")],
)
def test_paper_profile_training_submission(tmp_path, runs_per_gpu, wanted, unwanted):
    config = gpu_config(tmp_path / "gpu.yaml", runs_per_gpu)
    # The target goes first: --configfile takes every following word as a file.
    proc = snakemake(
        tmp_path, SELECTION_TARGET, "-n", "--profile", PAPER_PROFILE, "--configfile", QUICK, config
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    jobs = printed_resources(proc.stdout + proc.stderr)
    train = jobs["cifar_train"]
    assert len(train) == 2, jobs
    for resources in train:
        flags = plugin_sbatch_flags("cifar_train", resources).split()
        assert wanted in flags and not any(f.startswith(unwanted) for f in flags), flags
        assert "-p" in flags and flags[flags.index("-p") + 1] == "gpu"  # the profile's partition
        # a whole GPU holds runs_per_gpu slots, a shared run one of them
        assert resources["gpu_slots"] == (1 if runs_per_gpu > 1 else runs_per_gpu)
    assert "gpu" not in jobs["cifar_data"][0] and "gres" not in jobs["cifar_data"][0]


def test_local_gpu_limit_admits_runs_per_gpu_training_jobs(tmp_path):
    config = gpu_config(tmp_path / "gpu.yaml", runs_per_gpu=3)
    target = "data/cifar10/cifar-10-batches-py"  # one quick local job: the run starts
    proc = snakemake(
        tmp_path, target, "--cores", "1", "--resources", "gpu=2", "--configfile", QUICK, config
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    provided = [line for line in proc.stderr.splitlines() if "Provided resources:" in line]
    assert len(provided) == 1, proc.stderr[-4000:]
    # printed as gpu_slots=6 or, by Snakemake 9.27, gpu_slots=Resource("gpu_slots", 6)
    limits = dict(re.findall(r'(\w+)=(?:Resource\("\w+", )?(\d+)', provided[0]))
    assert limits == {"gpu": "2", "gpu_slots": "6"}, provided
