"""Figure 5's predictions, declared for the claims engine (``rotation_claims.csv``).

The geometry of the paper predicts, for training in rotated coordinates (``rotation.csv``,
:mod:`signgeom.analysis.rotation_table`), from ``theta = 0`` to the strongest rotation
``theta_max`` of the sweep, per model and per seed:

- ``same`` (the rotation-invariant optimizers, :data:`ROTATION_INVARIANT`): SGD with heavy-ball
  momentum is equivariant under an orthogonal change of coordinates, so its final training
  loss at step-size factor 1 stays put: ``q = L(theta_max) / L(0)`` within ``x/÷
  invariant_factor`` (rounding and chaotic growth of rounding differences only);
- ``worse`` (the sign-like optimizers, :data:`SIGN_LIKE`): the best final training loss over the
  step-size factors (completed runs with a finite loss) rises, ``q = best L(theta_max) / best
  L(0) > 1`` (the best over the factors, so that a rise is not a mistuned step);
- ``R_hat`` and ``phi`` fall along every optimizer's trajectory: ``q = median over epochs at
  theta_max / median at 0 < 1``.

``rotation.csv`` holds each run's final loss only, so these loss ratios are of the last epoch.
Seeds excluded from every claim of a model (:func:`screen`): a run at step factor 1, theta 0 or
``theta_max``, that did not complete, has a non-finite or non-positive final loss, R_hat or
phi median, or is missing. Intervals, verdicts and the table: :mod:`signgeom.analysis.claims`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import pandas as pd

from signgeom.analysis.claims import (
    Claim,
    ClaimSet,
    Tables,
    claims_table,
    finite_positive,
    read_input,
    write_claims,
)
from signgeom.analysis.figure3_claims import SIGN_LIKE
from signgeom.analysis.settings import ClaimSettings
from signgeom.cli import run_cli

log = logging.getLogger(__name__)

ROTATION_INVARIANT = ("sgd",)
CHECKED = ("final_train_loss", "R_hat_median", "phi_median")


def theta_range(table: pd.DataFrame) -> tuple[float, float]:
    """``(0, theta_max)`` of the sweep; a sweep without theta 0 or without a theta > 0 is an
    error naming the table."""
    thetas = set(table["theta"].astype(float))
    if 0.0 not in thetas:
        raise ValueError(f"rotation.csv has no theta = 0 rows (thetas {sorted(thetas)}): "
                         "nothing to compare with")  # fmt: skip
    if max(thetas) <= 0:
        raise ValueError("rotation.csv has no theta > 0: nothing to compare with theta = 0")
    return 0.0, max(thetas)


def _plain(table: pd.DataFrame, model: str) -> pd.DataFrame:
    """The model's runs at step factor 1 (those with estimates)."""
    return table[(table["model"] == model) & (table["lr_factor"] == 1.0)]


def screen(tables: Tables, model: str) -> dict[int, str]:
    """The seeds of ``model`` excluded from all its claims, with the reason."""
    table = tables["rotation"]
    ends = theta_range(table)
    plain = _plain(table, model)
    plain = plain[plain["theta"].isin(ends)]
    out: dict[int, str] = {}
    optimizers = sorted(set(table.loc[table["model"] == model, "optimizer"]))
    for seed in sorted({int(s) for s in table.loc[table["model"] == model, "seed"]}):
        rows = plain[plain["seed"] == seed]
        for opt in optimizers:
            for theta in ends:
                run = rows[(rows["optimizer"] == opt) & (rows["theta"] == theta)]
                where = f"{opt} at theta {theta:g}"
                if run.empty:
                    out.setdefault(seed, f"no run of {where}")
                elif (run["status"] != "completed").any():
                    out.setdefault(seed, f"{where} {run['status'].iloc[0]}")
                else:
                    for column in CHECKED:
                        if not finite_positive(run[column]).all():
                            out.setdefault(seed, f"{column} = {run[column].iloc[0]} ({where})")
    return out


def end_ratio(rows: pd.DataFrame, column: str, theta_max: float) -> pd.Series:
    """Per seed: ``column`` at ``theta_max`` over ``column`` at theta 0 (one row each)."""
    by = rows.set_index(["seed", "theta"])[column]
    out = {}
    for seed in rows["seed"].unique():
        low, high = by.get((seed, 0.0)), by.get((seed, theta_max))
        if low is not None and high is not None:
            out[int(seed)] = float(high) / float(low)
    return pd.Series(out, dtype=float)


def plain_ratio(tables: Tables, model: str, opt: str, column: str) -> pd.Series:
    table = tables["rotation"]
    plain = _plain(table, model)
    return end_ratio(plain[plain["optimizer"] == opt], column, theta_range(table)[1])


def best_loss_ratio(tables: Tables, model: str, opt: str) -> pd.Series:
    """Per seed: best final loss over the step factors (completed, finite and positive) at
    ``theta_max`` over the same at 0."""
    table = tables["rotation"]
    runs = table[(table["model"] == model) & (table["optimizer"] == opt)]
    runs = runs[(runs["status"] == "completed") & finite_positive(runs["final_train_loss"])]
    best = runs.groupby(["seed", "theta"], as_index=False)["final_train_loss"].min()
    return end_ratio(best, "final_train_loss", theta_range(table)[1])


def declare(tables: Tables, model: str, s: ClaimSettings) -> list[Claim]:
    """The rows of the module docstring for ``model``, per optimizer."""
    table = tables["rotation"]
    span = f"theta = {theta_range(table)[1]:g} / theta = 0"
    claims = []
    for opt in sorted(set(table.loc[table["model"] == model, "optimizer"])):
        common = dict(model=model, min_seeds=s.min_seeds, selections=(opt,))
        if opt in ROTATION_INVARIANT:
            claims.append(Claim(
                f"rot_same_{opt}",
                statement=f"{model}: {opt}'s final training loss does not move with the rotation",
                statistic=f"final training loss at step factor 1, {span}", direction="similar",
                band=s.invariant_factor,
                per_seed=partial(plain_ratio, model=model, opt=opt, column="final_train_loss"),
                **common,
            ))  # fmt: skip
        elif opt in SIGN_LIKE:
            claims.append(Claim(
                f"rot_worse_{opt}",
                statement=f"{model}: {opt}'s best final training loss rises with the rotation",
                statistic=f"best final training loss over the step factors, {span}",
                direction="above", per_seed=partial(best_loss_ratio, model=model, opt=opt),
                **common,
            ))  # fmt: skip
        for quantity, column in (("R_hat", "R_hat_median"), ("phi", "phi_median")):
            claims.append(Claim(
                f"rot_{quantity.lower()}_falls_{opt}",
                statement=f"{model}: {quantity} along {opt}'s trajectory falls with the rotation",
                statistic=f"median of {quantity} over epochs, {span}", direction="below",
                per_seed=partial(plain_ratio, model=model, opt=opt, column=column),
                estimates=True, **common,
            ))  # fmt: skip
    return claims


def rotation_claims(
    table: pd.DataFrame, step_sizes: pd.DataFrame, settings: ClaimSettings
) -> pd.DataFrame:
    """One row per (model, optimizer, prediction) of the module docstring."""
    if table.empty:
        raise ValueError("rotation.csv has no rows")
    theta_range(table)
    claim_set = ClaimSet(
        declare=partial(declare, s=settings),
        screen=screen,
        estimates_table="rotation",
        estimate_column="R_hat_median",
    )
    models = sorted(set(table["model"]))
    return claims_table(claim_set, {"rotation": table}, models, step_sizes, settings.level)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table", type=Path, required=True, help="rotation.csv")
    p.add_argument(
        "--step-sizes", type=Path, nargs="+", required=True, help="the rotated models' step sizes"
    )
    p.add_argument("--out", type=Path, required=True, help="rotation_claims.csv")
    ClaimSettings.add_arguments(p)
    a = p.parse_args(argv)
    claims = rotation_claims(
        read_input(a.table, "rotation"),
        pd.concat([read_input(p, "step sizes") for p in a.step_sizes], ignore_index=True),
        ClaimSettings.from_args(a),
    )
    write_claims(claims, a.out, log)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
