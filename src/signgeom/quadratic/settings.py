"""The settings of the quadratic stage's jobs, declared once (``signgeom.settings``).

One class per job kind: the Hessian grid (:class:`GridSettings`), the GD/signGD runs
(:class:`RunsSettings`), the summary (:class:`SummarySettings`), the separable bound
(:class:`SeparableSettings`), the 2-D figures (:class:`TwoDSettings`) and the saddle runs and
figure (:class:`SaddleRunsSettings`, :class:`TubeSettings`). Each is built once per job from the
validated config (``GridSettings.from_config(config, family=...)``); its JSON is the rule's
single ``--settings`` argument (a changed value changes it, so the job reruns) and the CLI's
flags are generated from its fields. A new setting of one of these jobs is one field here (with
its config key), its key in ``config.yaml`` and the schema, and the code that uses it.

Every field with a config key is read from the config (its value lives there only) and declares
its type and allowed values or range (``signgeom.settings``). These jobs
write no run directories, so no field's ``identity`` role is used. No numpy or torch import
here: the Snakefile uses this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from signgeom.settings import Settings, setting

# The allowed values of three config keys (numpy-free here: the stages import them).
STARTS_PER_ROTATION = ("independent", "shared")  # signgeom.quadratic.runs
AGGREGATES = ("ratio_of_means", "geometric_mean", "median")  # signgeom.quadratic.summary
SDP_SOLVERS = ("clarabel", "scs")  # signgeom.quadratic.separable


@dataclass(frozen=True, kw_only=True)
class GridSettings(Settings):
    """The Hessian grid of one spectrum family (``signgeom.quadratic.hessians``)."""

    family: str = setting(help="spectrum family (a key of SPECTRUM_FAMILIES)")
    dim: int = setting(config="quadratic.dim", ge=2, help="dimension d")
    theta_min: float = setting(
        config="quadratic.theta.min", ge=0, le=1, help="first rotation exponent"
    )
    theta_max: float = setting(
        config="quadratic.theta.max", ge=0, le=1, help="last rotation exponent"
    )
    theta_num: int = setting(
        config="quadratic.theta.num", ge=1, help="rotation exponents (linspace)"
    )
    ratio_min: float = setting(
        config="quadratic.lambda_ratio.min", ge=1, help="first lambda_max / lambda_bar"
    )
    ratio_max: float = setting(
        config="quadratic.lambda_ratio.max", ge=1, help="last lambda_max / lambda_bar"
    )
    ratio_num: int = setting(
        config="quadratic.lambda_ratio.num", ge=1, help="eigenvalue ratios (linspace)"
    )
    rotations: int = setting(
        config="quadratic.rotations", ge=1, help="Haar rotation draws per cell"
    )
    seed: int = setting(config="seed", ge=0, help="base seed of the rotation draws")


@dataclass(frozen=True, kw_only=True)
class RunsSettings(Settings):
    """GD and signGD on every Hessian of the grid (``signgeom.quadratic.runs``)."""

    starts: int = setting(config="quadratic.starts", ge=1, help="starting points per rotation")
    steps: int = setting(config="quadratic.steps", ge=1, help="iterations T")
    seed: int = setting(config="seed", ge=0, help="base seed of the starting points")
    starts_per_rotation: str = setting(
        config="quadratic.starts_per_rotation",
        choices=STARTS_PER_ROTATION,
        help="independent | shared (runs.STARTS_PER_ROTATION)",
    )


@dataclass(frozen=True, kw_only=True)
class SummarySettings(Settings):
    """One row per grid cell with its bootstrap interval (``signgeom.quadratic.summary``)."""

    aggregate: str = setting(
        config="quadratic.aggregate",
        choices=AGGREGATES,
        help="aggregation of the runs (summary.AGGREGATES)",
    )
    resamples: int = setting(
        config="quadratic.bootstrap.resamples", ge=10, help="bootstrap resamples"
    )
    level: float = setting(
        config="quadratic.bootstrap.level", gt=0, lt=1, help="two-sided interval level"
    )
    seed: int = setting(config="seed", ge=0, help="base seed of the bootstrap")


@dataclass(frozen=True, kw_only=True)
class SeparableSettings(Settings):
    """The separable smoothness ``L_sep`` and the bound chain (``signgeom.quadratic.separable``)."""

    solver: str = setting(
        config="quadratic.separable.solver", choices=SDP_SOLVERS, help="SDP solver (clarabel | scs)"
    )
    tol: float = setting(
        config="quadratic.separable.tol",
        gt=0,
        le=0.01,
        help="relative certified gap and bound slack",
    )


@dataclass(frozen=True, kw_only=True)
class TwoDSettings(Settings):
    """The panels of Figures 1 and 4 (``signgeom.plotting.figure1``)."""

    lambda_min: float = setting(config="two_d.lambda_min", gt=0, help="smaller eigenvalue")
    lambda_max: tuple[float, ...] = setting(
        config="two_d.lambda_max", gt=0, help="larger eigenvalue of each row of panels"
    )
    angles_deg: tuple[float, ...] = setting(
        config="two_d.angles_deg", ge=-180, le=180, help="rotation angle of each column, degrees"
    )


@dataclass(frozen=True, kw_only=True)
class TubeSettings(Settings):
    """Du et al.'s tube of saddles (``signgeom.quadratic.saddles.Tube``); the saddle figure's."""

    dim: int = setting(config="saddles.dim", ge=2, help="dimension d (d saddles)")
    L: float = setting(config="saddles.L", gt=0, help="curvature of the wells")
    gamma: float = setting(config="saddles.gamma", gt=0, help="negative curvature of the escapes")
    tau: float = setting(config="saddles.tau", gt=0, help="tube width")


@dataclass(frozen=True, kw_only=True)
class SaddleRunsSettings(TubeSettings):
    """Every method through the tube, unrotated and rotated (``signgeom.quadratic.saddle_runs``)."""

    init_radius: float = setting(config="saddles.init_radius", gt=0, help="x0 ~ U[-r, r]^d")
    rotations: int = setting(config="saddles.rotations", ge=0, help="Haar rotations of the tube")
    steps: int = setting(config="saddles.steps", ge=1, help="iterations per run")
    seed: int = setting(config="seed", ge=0, help="base seed of x0, rotations and perturbations")
    momentum: float = setting(
        config="saddles.momentum", ge=0, lt=1, help="sign_momentum's momentum"
    )
    step_sizes: dict[str, float] = setting(
        config="saddles.step_sizes",
        help="constant step size per method run (JSON object method -> lr)",
    )
    pgd_radius: float = setting(
        config="saddles.perturbation.radius", gt=0, help="perturbed GD: ball radius"
    )
    pgd_grad_threshold: float = setting(
        config="saddles.perturbation.grad_threshold", ge=0, help="perturbed GD: gradient threshold"
    )
    pgd_interval: int = setting(
        config="saddles.perturbation.interval", ge=0, help="perturbed GD: steps between draws"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        rates = {str(name): float(lr) for name, lr in self.step_sizes.items()}
        object.__setattr__(self, "step_sizes", rates)

    def tube(self) -> TubeSettings:
        """The tube's own settings (what the saddle figure takes)."""
        return TubeSettings(dim=self.dim, L=self.L, gamma=self.gamma, tau=self.tau)


@dataclass(frozen=True, kw_only=True)
class NoiseSettings(Settings):
    """The problem, noise and tuning of ``theory.noise``, shared by the stochastic stages
    (``signgeom.quadratic.problems``)."""

    family: str = setting(config="theory.noise.family", help="spectrum family of H")
    lambda_ratio: float = setting(
        config="theory.noise.lambda_ratio", ge=1, help="lambda_max/lambda_bar"
    )
    theta: float = setting(config="theory.noise.theta", ge=0, le=1, help="rotation exponent of H")
    sigma_rms: float = setting(
        config="theory.noise.sigma_rms", gt=0, help="noise scale per coordinate"
    )
    sparse_k: int = setting(config="theory.noise.sparse_k", ge=1, help="noisy coordinates (sparse)")
    target_fraction: float = setting(
        config="theory.noise.target_fraction",
        gt=0,
        lt=1,
        help="target: this x the initial gradient l1 norm",
    )
    runs: int = setting(config="theory.noise.runs", ge=2, help="independent runs")
    max_steps: int = setting(
        config="theory.noise.max_steps", ge=1, help="steps before a run is inf"
    )
    widen: int = setting(config="theory.noise.widen", ge=0, help="grid extensions at an edge")
    step_sizes: dict[str, dict[str, float]] = setting(
        config="theory.noise.step_sizes",
        help="log-spaced step-size grid per optimizer (JSON: name -> {min, max, num})",
    )
    seed: int = setting(config="seed", ge=0, help="base seed of H, starts and noise")


@dataclass(frozen=True, kw_only=True)
class NoiseDimensionSettings(NoiseSettings):
    """Dense vs sparse noise across the dimension (``signgeom.quadratic.noise_dimension``)."""

    dims: tuple[int, ...] = setting(config="theory.noise_dimension.dims", ge=2, help="dimensions d")
    momentum: float = setting(
        config="theory.noise_dimension.momentum",
        gt=0,
        lt=1,
        help="heavy-ball beta of the momentum methods",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))


@dataclass(frozen=True, kw_only=True)
class MajoritySettings(NoiseSettings):
    """Mean (SGD) vs majority vote (signSGD) across workers (``signgeom.quadratic.majority``)."""

    dim: int = setting(config="theory.majority_vote.dim", ge=2, help="dimension d")
    workers: tuple[int, ...] = setting(
        config="theory.majority_vote.workers", ge=1, help="worker counts M (including 1)"
    )
    distributions: tuple[str, ...] = setting(
        config="theory.majority_vote.distributions", help="noise distributions"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "workers", tuple(int(m) for m in self.workers))
        object.__setattr__(self, "distributions", tuple(map(str, self.distributions)))


@dataclass(frozen=True, kw_only=True)
class NoiseSummarySettings(Settings):
    """The bootstrap of both stochastic stages' summaries (``theory.noise.bootstrap``)."""

    resamples: int = setting(config="theory.noise.bootstrap.resamples", ge=10, help="resamples")
    level: float = setting(config="theory.noise.bootstrap.level", gt=0, lt=1, help="interval level")
    seed: int = setting(config="seed", ge=0, help="base seed of the bootstrap")
