"""The claims settings (``cifar.claims``), shared by every claims table of the project."""

from __future__ import annotations

from dataclasses import dataclass

from signgeom.settings import Settings, setting


@dataclass(frozen=True, kw_only=True)
class ClaimSettings(Settings):
    """Interval level, minimum seeds for a verdict, the windows of the statistics and the bands
    that count as "similar" / "does not move"."""

    level: float = setting(
        config="cifar.claims.level", gt=0, lt=1, help="t-interval level over seeds"
    )
    min_seeds: int = setting(
        config="cifar.claims.min_seeds",
        ge=1,
        help="usable seeds below which a claim has no verdict",
    )
    early_fraction: float = setting(
        config="cifar.claims.early_fraction",
        gt=0,
        le=1,
        help="early window: estimates at 0 < epoch <= this x the last epoch, plus epoch 0 once",
    )
    loss_tail_fraction: float = setting(
        config="cifar.claims.loss_tail_fraction",
        gt=0,
        le=1,
        help="loss comparisons: mean log training loss over this last fraction of the epochs",
    )
    similar_factor: float = setting(
        config="cifar.claims.similar_factor", gt=1, help="'similar': a ratio within x/÷ this factor"
    )
    invariant_factor: float = setting(
        config="cifar.claims.invariant_factor",
        gt=1,
        help="'does not move' under rotation: a ratio within x/÷ this factor",
    )
