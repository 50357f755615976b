"""Figure 5's predictions as computed verdicts (``rotation_claims.csv``).

The geometry of the paper predicts, for training in rotated coordinates (``rotation.csv``,
:mod:`signgeom.cifar.rotation_table`), from ``theta = 0`` to the strongest rotation
``theta_max`` of the sweep, per model and per seed:

- ``same`` (the rotation-invariant optimizers, :data:`ROTATION_INVARIANT`): SGD with heavy-ball
  momentum is equivariant under an orthogonal change of coordinates, so its final training
  loss at step-size factor 1 stays put: ``q = L(theta_max) / L(0)`` within ``x/÷
  invariant_factor`` (rounding and chaotic growth of rounding differences only);
- ``worse`` (the sign-like optimizers, :data:`SIGN_LIKE`): the best final training loss over the
  step-size factors rises, ``q = best L(theta_max) / best L(0) > 1`` (the best over the factors,
  so that a rise is not a mistuned step);
- ``R_hat`` and ``phi`` fall along every optimizer's trajectory: ``q = median over epochs at
  theta_max / median at 0 < 1``.

Intervals and verdicts follow :mod:`signgeom.cifar.claims` (geometric mean over seeds of ``q``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from signgeom.cifar.claims import COLUMNS, SIGN_LIKE, Claim, ClaimSettings, claim_row
from signgeom.cli import run_cli
from signgeom.io import read_table, write_table

log = logging.getLogger(__name__)

ROTATION_INVARIANT = ("sgd",)


def _ratio(table: pd.DataFrame, column: str, theta_max: float) -> pd.Series:
    """Per seed: ``column`` at ``theta_max`` over ``column`` at theta 0 (one row each)."""
    by = table.set_index(["seed", "theta"])[column]
    out = {}
    for seed in table["seed"].unique():
        low, high = by.get((seed, 0.0)), by.get((seed, theta_max))
        if low is not None and high is not None and low > 0:
            out[int(seed)] = float(high / low)
    return pd.Series(out, dtype=float)


def _best_loss(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.groupby(["seed", "theta"], as_index=False)["final_train_loss"].min()


def rotation_claims(
    table: pd.DataFrame, settings: ClaimSettings, invariant_factor: float
) -> pd.DataFrame:
    """One row per (model, optimizer, prediction) of the module docstring (``COLUMNS``)."""
    theta_max = float(table["theta"].max())
    if theta_max <= 0:
        raise ValueError("rotation.csv has no theta > 0: nothing to compare with theta = 0")
    span = f"theta = {theta_max:g} / theta = 0"
    rows = []
    for (model, opt), runs in table.groupby(["model", "optimizer"], sort=True):
        plain = runs[runs["lr_factor"] == 1.0]
        if opt in ROTATION_INVARIANT:
            claim = Claim(
                f"rot_same_{opt}", model,
                f"{model}: {opt}'s final training loss does not move with the rotation",
                f"final training loss at step factor 1, {span}", "similar", None,
            )  # fmt: skip
            per_seed = _ratio(plain, "final_train_loss", theta_max)
            rows.append(claim_row(claim, per_seed, settings, factor=invariant_factor))
        elif opt in SIGN_LIKE:
            claim = Claim(
                f"rot_worse_{opt}", model,
                f"{model}: {opt}'s best final training loss rises with the rotation",
                f"best final training loss over the step factors, {span}", "above", None,
            )  # fmt: skip
            rows.append(claim_row(claim, _ratio(_best_loss(runs), "final_train_loss",
                                                theta_max), settings))  # fmt: skip
        for quantity, column in (("R_hat", "R_hat_median"), ("phi", "phi_median")):
            claim = Claim(
                f"rot_{quantity.lower()}_falls_{opt}", model,
                f"{model}: {quantity} along {opt}'s trajectory falls with the rotation",
                f"median of {quantity} over epochs, {span}", "below", None,
            )  # fmt: skip
            rows.append(claim_row(claim, _ratio(plain, column, theta_max), settings))
    return pd.DataFrame(rows, columns=COLUMNS)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table", type=Path, required=True, help="rotation.csv")
    p.add_argument("--level", type=float, required=True, help="interval level over seeds")
    p.add_argument("--similar-factor", type=float, required=True, help="cifar.claims")
    p.add_argument("--invariant-factor", type=float, required=True,
                   help="'does not move': within x/÷ this factor")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="rotation_claims.csv")
    a = p.parse_args(argv)
    settings = ClaimSettings(level=a.level, similar_factor=a.similar_factor)
    claims = rotation_claims(read_table(a.table), settings, a.invariant_factor)
    write_table(claims, a.out)
    for row in claims.itertuples():
        log.info("%s (%s): %.4g -> %s", row.claim, row.model, row.value, row.verdict)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
