"""A job's threads, memory, runtime and GPUs, from the config's ``resources`` section."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class Resources:
    """The resources of each job kind (a key of ``resources``: train, smoothness, quadratic,
    theory)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config["resources"]
        self.gpus: int = self.config["gpu"]
        # Training runs sharing one GPU (1 without GPUs).
        self.runs_per_gpu: int = self.config["runs_per_gpu"] if self.gpus else 1

    def threads(self, kind: str) -> int:
        return self.config[kind]["cpus"]

    def runtime(self, kind: str) -> Callable[[Any, int], int]:
        """Runtime in minutes, ``runtime_min`` x the attempt (1, 2, ...): a retry gets more."""
        base = self.config[kind]["runtime_min"]
        return lambda wildcards, attempt: base * attempt

    def cpu_job(self, kind: str) -> dict[str, Any]:
        """Memory and runtime of a CPU job (its CPUs are its threads: SLURM group jobs would
        sum ``cpus_per_task`` over their members)."""
        return dict(mem_mb=self.config[kind]["mem_mb"], runtime=self.runtime(kind))

    def gpu_job(self, kind: str) -> dict[str, Any]:
        """Memory, CPUs, runtime and GPUs of a training or estimate job.

        A job on whole GPUs asks for ``gpu`` (sbatch --gpus=N) and holds runs_per_gpu
        ``gpu_slots`` per GPU; a training job sharing a GPU (runs_per_gpu > 1) asks instead for
        one GPU shard (sbatch --gres=shard:1) and holds one slot, so runs_per_gpu of them fill
        one GPU.
        """
        res = self.config[kind]
        out = dict(mem_mb=res["mem_mb"], cpus_per_task=res["cpus"], runtime=self.runtime(kind))
        if kind == "train" and self.runs_per_gpu > 1:
            return dict(out, gres="shard:1", gpu_slots=1)
        return dict(out, gpu=self.gpus, gpu_slots=self.gpus * self.runs_per_gpu)
