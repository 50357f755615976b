"""The settings of the estimates along a training trajectory, declared once (``signgeom.settings``).

Every estimate differentiates the same fixed objective (``signgeom.estimate.fixed_objective``) at
the snapshots of one run; :class:`EstimateSettings` holds what they share: the run's model and
optimizer (per-job values), the objective (batch-norm mode, estimation set, chunks, precision,
layout), the images per gradient pass (``micro_batch``: a speed setting, not the objective's) and
the device. On top of it:

- :class:`ProbeSettings`: the finite-difference probes (gammas, reduction, probe lengths),
  shared by :class:`SmoothnessSettings` (``signgeom.estimate.smoothness``: sharded over the
  snapshot epochs, probes batched or not, optionally in the run's rotated coordinates) and
  :class:`SensitivitySettings` (``signgeom.estimate.sensitivity``: a grid of probe lengths at a few
  epochs; it neither shards, batches nor rotates);
- :class:`HessianSettings` (``signgeom.estimate.hessian``): the epochs and the objective of the
  Hessian stage plus :class:`HessianMethod`, the cost and randomness of one Hessian estimate.

Each is built once per job from the validated config (``SmoothnessSettings.from_config(config,
model=..., trajectory_optimizer=..., shard=...)``); its JSON is the rule's ``--settings``
argument and its fields the CLI's flags; config-keyed fields have no default (config.yaml holds
their values) and declare their allowed values or range (``signgeom.settings``). Paths (run and
data directories, the step-size table, outputs) stay separate arguments. No torch import here:
the Snakefile uses this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signgeom.norms import DEFAULT_MAX_EXACT_DIM
from signgeom.probes import HEADLINE_PROBE_STEP, PROBE_STEPS
from signgeom.settings import Settings, same_as, setting
from signgeom.training.run_settings import TrainSettings, model_architecture, network_of


def estimation_examples(cifar: Mapping[str, Any]) -> int | None:
    """The ``--n-examples`` of the estimators: the estimation set is the first this many
    training images; ``cifar.smoothness.n_examples``, else the training set the runs saw
    (``cifar.data.train_limit``; None: every image)."""
    n = cifar["smoothness"]["n_examples"]
    return n if n is not None else cifar["data"].get("train_limit")


BN_MODES = ("batch_stats", "running_stats")
ESTIMATOR_PRECISIONS = ("fp32", "fp64")
REDUCTIONS = ("min", "max")


def _positive_int(text: str) -> bool:
    return text.isdigit() and int(text) > 0


@dataclass(frozen=True, kw_only=True)
class EstimateSettings(Settings):
    """The run an estimate follows, the fixed objective it differentiates, and the device."""

    model: str = setting(help="the run's model: a key of cifar.models (names the rows)")
    architecture: str | None = setting(
        None,
        json="unless_default",
        help="the run's network (cifar.models.<model>.architecture), a model of "
        "signgeom.tasks.registry; none = the model's name",
    )
    trajectory_optimizer: str = setting(help="the run's optimizer (names the rows' trajectory)")
    bn_mode: str = setting(
        config="cifar.smoothness.bn_mode", choices=BN_MODES, help="batch norm in the objective"
    )
    n_examples: int | None = setting(None, ge=1, help="the first N training images; none = all")
    chunk_size: int = setting(
        config="cifar.smoothness.chunk_size", ge=1, le=50000, help="images per gradient chunk"
    )
    precision: str = setting(
        config="cifar.smoothness.precision",
        choices=ESTIMATOR_PRECISIONS,
        help="fp32 (strict, TF32 off) or fp64, whatever precision trained the run",
    )
    channels_last: bool = setting(
        config="cifar.smoothness.channels_last", help="NHWC layout (same precision)"
    )
    micro_batch: str = setting(
        config="cifar.smoothness.micro_batch",
        help="images per gradient pass where examples are independent: auto|none|N",
    )
    device: str = same_as(TrainSettings, "device", help="where to compute")

    @property
    def network(self) -> str:
        """The network of the run: ``architecture``, or the model's name."""
        return network_of(self.model, self.architecture)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **per_job: Any):
        """As :meth:`Settings.from_config`; the network is the model's own
        (``cifar.models.<model>.architecture``) where it has one."""
        per_job.setdefault("architecture", model_architecture(config["cifar"], per_job["model"]))
        return super().from_config(config, **per_job)

    def __post_init__(self) -> None:
        if self.micro_batch is None or isinstance(self.micro_batch, int):  # the config's null / N
            text = "none" if self.micro_batch is None else str(self.micro_batch)
            object.__setattr__(self, "micro_batch", text)
        if self.architecture == self.model:  # one network, however it is named
            object.__setattr__(self, "architecture", None)
        super().__post_init__()
        if not (self.micro_batch in ("auto", "none") or _positive_int(self.micro_batch)):
            raise ValueError(
                "config key 'cifar.smoothness.micro_batch': must be auto, none or a positive "
                f"integer, got {self.micro_batch!r}"
            )


@dataclass(frozen=True, kw_only=True)
class ProbeSettings(EstimateSettings):
    """The finite-difference probes ``x + gamma s`` (``signgeom.estimate.smoothness``) on the
    estimation set, the first ``n_examples`` training images (``from_config``:
    ``estimation_examples``)."""

    gammas: tuple[float, ...] = setting(
        config="cifar.smoothness.gammas", gt=0, help="points x + gamma s"
    )
    reduction: str = setting(
        config="cifar.smoothness.reduction", choices=REDUCTIONS, help="over the gammas"
    )
    probe_step: str = setting(
        config="cifar.smoothness.probe_step",
        choices=PROBE_STEPS,
        help="probe lengths from the step sizes",
    )
    momentum: float = same_as(TrainSettings, "momentum", help="heavy-ball momentum beta")
    probe_radius: float | None = setting(
        config="cifar.smoothness.probe_radius", gt=0, help="r of probe_step radius; none"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.probe_step == "radius" and self.probe_radius is None:
            raise ValueError(
                "config key 'cifar.smoothness.probe_radius': required (a positive length) when "
                "cifar.smoothness.probe_step is radius"
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **per_job: Any):
        """As :meth:`Settings.from_config`; ``n_examples`` is the estimation set's size."""
        per_job.setdefault("n_examples", estimation_examples(config["cifar"]))
        return super().from_config(config, **per_job)

    def probes(self) -> dict[str, Any]:
        """The per-snapshot estimators' probe arguments (``estimate_smoothness``,
        ``probe_sensitivity``): the gammas, their reduction, the probe lengths, ``bn_mode``."""
        names = ("gammas", "reduction", "bn_mode", "probe_step", "momentum", "probe_radius")
        return {name: getattr(self, name) for name in names}


@dataclass(frozen=True, kw_only=True)
class RobustnessSettings(Settings):
    """The probe options Figure 3's smoothness stage estimates with besides the headline
    ``probe_step`` (``signgeom.plan.cifar``: one more set of shards per option along every
    selected trajectory; the claims tables' ``verdict_<option>`` columns).

    The claims' headline is :data:`HEADLINE_PROBE_STEP` (``raw``), so options are listed only
    where ``probe_step`` is that one; ``radius`` needs ``probe_radius``: a
    null radius has no length to probe with and is refused, naming the key."""

    robustness_probe_steps: tuple[str, ...] = setting(
        config="cifar.smoothness.robustness_probe_steps",
        choices=PROBE_STEPS,
        help="probe options estimated besides probe_step (robustness of the verdicts)",
    )
    probe_step: str = same_as(ProbeSettings, "probe_step")
    probe_radius: float | None = same_as(ProbeSettings, "probe_radius")

    def __post_init__(self) -> None:
        super().__post_init__()
        key = "config key 'cifar.smoothness.robustness_probe_steps'"
        options = self.robustness_probe_steps
        if len(set(options)) < len(options):
            raise ValueError(f"{key}: lists an option twice: {list(options)}")
        if self.probe_step in options:
            raise ValueError(
                f"{key}: lists {self.probe_step!r}, the headline cifar.smoothness.probe_step "
                "(estimated anyway); list only the other options"
            )
        if options and self.probe_step != HEADLINE_PROBE_STEP:
            raise ValueError(
                f"{key}: {list(options)} needs cifar.smoothness.probe_step "
                f"{HEADLINE_PROBE_STEP} (the claims' headline), got {self.probe_step!r}; "
                f"set it to [] or probe_step to {HEADLINE_PROBE_STEP}"
            )
        if "radius" in options and self.probe_radius is None:
            raise ValueError(
                "config key 'cifar.smoothness.probe_radius': required (a positive length) when "
                "cifar.smoothness.robustness_probe_steps lists radius"
            )


@dataclass(frozen=True, kw_only=True)
class SmoothnessSettings(ProbeSettings):
    """One shard of the smoothness estimates along a trajectory (``estimate.smoothness``)."""

    shard: int = setting(0, ge=0, help="this job's shard of the snapshot epochs, 0-based")
    n_shards: int = setting(config="cifar.smoothness.shards", ge=1, help="shards per trajectory")
    batched: str = setting(
        config="cifar.smoothness.batched",
        choices=("auto", "true", "false"),
        help="probe gradients in one vmapped pass",
    )
    compile: bool = setting(
        config="cifar.smoothness.compile",
        help="the network through torch.compile (inductor): same objective, sequential probes",
    )
    rotated_coordinates: bool = setting(
        False, help="estimate in the run's rotated training coordinates (from its status.json)"
    )

    def __post_init__(self) -> None:
        if isinstance(self.batched, bool):  # the config's true/false
            object.__setattr__(self, "batched", "true" if self.batched else "false")
        super().__post_init__()
        if self.compile and self.batched == "true":
            raise ValueError(
                "config key 'cifar.smoothness.compile': true needs sequential probes, but "
                "cifar.smoothness.batched is true (set it to auto or false)"
            )


@dataclass(frozen=True, kw_only=True)
class SensitivitySettings(ProbeSettings):
    """The probe-length sensitivity along a trajectory (``signgeom.estimate.sensitivity``)."""

    n_epochs: int = setting(
        config="cifar.sensitivity.n_epochs", ge=1, help="snapshot epochs, spread"
    )
    factors: tuple[float, ...] = setting(
        config="cifar.sensitivity.factors", gt=0, help="multipliers of the probe lengths"
    )
    length_factor: float = setting(
        config="cifar.sensitivity.length_factor",
        ge=1,
        help="flag rows whose two probe lengths differ by more than this ratio",
    )


@dataclass(frozen=True, kw_only=True)
class HessianMethod(Settings):
    """The cost and the randomness of one Hessian estimate (``signgeom.estimate.hessian``)."""

    top_k: int = setting(
        config="cifar.hessian.top_k", ge=1, help="largest eigenvalues by Lanczos (also lambda_min)"
    )
    lanczos_tol: float = setting(
        config="cifar.hessian.lanczos_tol", ge=0, help="eigsh relative accuracy"
    )
    lanczos_ncv: int = setting(
        config="cifar.hessian.lanczos_ncv", ge=3, help="Lanczos vectors per restart"
    )
    n_probes: int = setting(
        config="cifar.hessian.n_probes",
        ge=2,
        help="Rademacher probes of the deflated Hutchinson trace",
    )
    block_size: int = setting(
        config="cifar.hessian.block_size",
        ge=2,
        le=1024,
        help="k of the exact k x k random/contiguous blocks",
    )
    n_random_blocks: int = setting(
        config="cifar.hessian.n_random_blocks",
        ge=0,
        help="blocks of k coordinates drawn over all d",
    )
    n_contiguous_blocks: int = setting(
        config="cifar.hessian.n_contiguous_blocks",
        ge=0,
        help="blocks of k consecutive coordinates of one tensor",
    )
    slq_steps: int = setting(
        config="cifar.hessian.slq_steps", ge=2, help="Lanczos steps of the spectral density"
    )
    slq_repeats: int = setting(
        config="cifar.hessian.slq_repeats", ge=1, help="random starts of the spectral density"
    )
    max_exact_dim: int = setting(
        config="cifar.hessian.max_exact_dim",
        ge=2,
        help=f"exact ||H_II||_inf,1 up to this k (at most {DEFAULT_MAX_EXACT_DIM})",
    )
    seed: int = setting(config="seed", ge=0, help="seed of every random draw (plus the epoch)")


@dataclass(frozen=True, kw_only=True)
class HessianSettings(EstimateSettings, HessianMethod):
    """The Hessian stage along a trajectory: which snapshots, on which images, by which method."""

    n_examples: int = setting(
        config="cifar.hessian.n_examples", ge=1, help="the first N training images"
    )
    stride: int = setting(
        config="cifar.hessian.stride", ge=1, help="every n-th snapshot epoch from the last"
    )
    slq_every: int = setting(
        config="cifar.hessian.slq_every", ge=0, help="spectral density at every n-th (0: never)"
    )
    rotated_coordinates: bool = setting(
        False, help="blocks, phi and Eq. 13 in the run's rotated training coordinates"
    )

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **per_job: Any):
        """As :meth:`Settings.from_config`; ``precision`` is ``cifar.hessian.precision``, or
        ``cifar.smoothness.precision`` where that is null."""
        own = config["cifar"]["hessian"].get("precision")
        per_job.setdefault("precision", own or config["cifar"]["smoothness"]["precision"])
        return super().from_config(config, **per_job)
