"""The paper's Figure 3 claims, declared for the claims engine (``claims.csv``).

Per model and seed, from the selected runs (``metrics.csv``) and R_hat along them
(``smoothness.csv``), each claim's ratio ``q_s`` (threshold 1), by
:mod:`signgeom.analysis.statistics`:

- ``loss`` (a: CNN, signSGD ahead; b: ResNet20, SGD ahead): ``q_s = exp(mean log L_behind -
  mean log L_ahead)``, the training losses (``train_loss``: mean minibatch loss of the epoch)
  over the last ``loss_tail_fraction`` of the epochs both runs reached;
- ``rhat_early`` (a): the geometric mean of R_hat over the estimates at ``0 < epoch <=
  early_fraction x last`` along both trajectories, plus epoch 0 (their shared start) once;
- ``rhat_all`` (b): the same over every estimate;
- ``similar`` (c, every model): the geometric mean over the epochs after 0 estimated along
  both trajectories of ``R_hat(signSGD trajectory) / R_hat(SGD trajectory)``.

Seeds excluded from every claim of a model (:func:`screen`): a selected run that diverged, did
not complete or has a non-finite training loss; a non-finite or non-positive R_hat or phi; a
missing trajectory. Intervals, verdicts and the table: :mod:`signgeom.analysis.claims`.
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
    read_inputs,
    write_claims,
)
from signgeom.analysis.settings import ClaimSettings
from signgeom.analysis.statistics import (
    pooled_geomean,
    tail_loss_ratio,
    trajectory_ratio,
    window_holds_estimates,
)
from signgeom.cli import run_cli

log = logging.getLogger(__name__)

TRAJECTORIES = ("sgd", "signsgd")
SIGN_LIKE = ("signsgd", "adam", "lion")  # updates of (near-)constant size per coordinate


def is_true(values: pd.Series) -> pd.Series:
    """A boolean column as read from CSV (``True``/``true``/``1``)."""
    return values.map(lambda v: str(v).strip().lower() in ("true", "1", "1.0"))


def selected_runs(metrics: pd.DataFrame, model: str) -> pd.DataFrame:
    """The rows of ``model``'s selected runs."""
    return metrics[(metrics["model"] == model) & is_true(metrics["selected"])]


def run_problems(runs: pd.DataFrame) -> dict[int, str]:
    """Seed -> reason, for the runs of ``metrics.csv`` rows: diverged, not completed or a
    non-finite training loss (the first reason per seed)."""
    out: dict[int, str] = {}
    for (seed, opt), rows in runs.groupby(["seed", "optimizer"], sort=True):
        if is_true(rows["diverged"]).any():
            reason = f"{opt} diverged"
        elif (rows["status"] != "completed").any():
            reason = f"{opt} status {rows['status'][rows['status'] != 'completed'].iloc[0]}"
        elif not finite_positive(rows["train_loss"]).all():
            reason = f"{opt} training loss not finite and positive"
        else:
            continue
        out.setdefault(int(seed), reason)
    return out


def estimate_problems(est: pd.DataFrame, columns: Sequence[str] = ("R_hat", "phi")) -> dict:
    """Seed -> reason: an estimate in ``columns`` that is not finite and positive."""
    out: dict[int, str] = {}
    for column in columns:
        if column not in est:
            continue
        bad = est[~finite_positive(est[column])]
        for r in bad.sort_values(["seed", "epoch"]).itertuples():
            out.setdefault(
                int(r.seed), f"{column} = {getattr(r, column)} at epoch {r.epoch} ({r.optimizer})"
            )
    return out


def missing_trajectories(frames: dict[str, pd.DataFrame], optimizers: Sequence[str]) -> dict:
    """Seed -> reason: a seed present in one table lacking one of ``optimizers`` in one."""
    seeds = sorted({int(s) for f in frames.values() for s in f["seed"].unique()})
    out: dict[int, str] = {}
    for seed in seeds:
        for what, frame in frames.items():
            have = set(frame.loc[frame["seed"] == seed, "optimizer"])
            if lacking := [o for o in optimizers if o not in have]:
                out.setdefault(seed, f"no {', '.join(lacking)} {what}")
    return out


def screen(tables: Tables, model: str) -> dict[int, str]:
    """The seeds of ``model`` excluded from all its claims, with the reason."""
    runs = selected_runs(tables["metrics"], model)
    est = tables["smoothness"]
    est = est[(est["model"] == model) & est["optimizer"].isin(TRAJECTORIES)]
    out = missing_trajectories({"trajectory": runs, "estimates": est}, TRAJECTORIES)
    for reasons in (run_problems(runs), estimate_problems(est)):
        for seed, reason in reasons.items():
            out.setdefault(seed, reason)
    return out


def by_seed(table: pd.DataFrame, values: str) -> dict[int, pd.DataFrame]:
    """Seed -> epochs x optimizers table of ``values``."""
    return {
        int(seed): rows.pivot_table(index="epoch", columns="optimizer", values=values)
        for seed, rows in table.groupby("seed")
    }


def loss_ratio(tables: Tables, model: str, behind: str, ahead: str, tail: float) -> pd.Series:
    """Per seed: :func:`tail_loss_ratio` of ``behind`` over ``ahead``."""
    curves = by_seed(selected_runs(tables["metrics"], model), "train_loss")
    return pd.Series(
        {s: tail_loss_ratio(c, behind, ahead, tail) for s, c in curves.items()
         if behind in c and ahead in c},
        dtype=float,
    )  # fmt: skip


def _estimates(tables: Tables, model: str) -> dict[int, pd.DataFrame]:
    est = tables["smoothness"]
    return by_seed(est[(est["model"] == model) & est["optimizer"].isin(TRAJECTORIES)], "R_hat")


def rhat_pooled(tables: Tables, model: str, early_fraction: float | None) -> pd.Series:
    """Per seed: :func:`pooled_geomean` of R_hat, up to ``early_fraction x`` the seed's last
    estimated epoch (None: every epoch); no value for a seed whose window holds no estimate
    after epoch 0."""
    out = {}
    for seed, r in _estimates(tables, model).items():
        last = None if early_fraction is None else early_fraction * r.index.max()
        if window_holds_estimates(r, last):
            out[seed] = pooled_geomean(r, last)
    return pd.Series(out, dtype=float)


def rhat_similar(tables: Tables, model: str) -> pd.Series:
    """Per seed: :func:`trajectory_ratio` of R_hat along signSGD over R_hat along SGD."""
    return pd.Series(
        {s: trajectory_ratio(r, "signsgd", "sgd") for s, r in _estimates(tables, model).items()
         if set(TRAJECTORIES) <= set(r.columns)
         and window_holds_estimates(r[list(TRAJECTORIES)].dropna(), None)},
        dtype=float,
    )  # fmt: skip


def declare(tables: Tables, model: str, s: ClaimSettings) -> list[Claim]:
    """The Figure 3 claims of ``model`` (none for a model the paper does not discuss or the
    tables do not hold)."""
    if model not in set(tables["metrics"]["model"]):
        return []
    tail = s.loss_tail_fraction
    loss = (
        f"exp(mean log L_{{behind}} - mean log L_{{ahead}}), training loss over the last "
        f"ceil({tail:g} x E) epochs, E the last epoch both runs reached"
    )
    common = dict(model=model, min_seeds=s.min_seeds, selections=TRAJECTORIES)
    similar = Claim(
        f"c_similar_{model}", statement=f"{model_name(model)}: R_hat along the two trajectories "
        "is similar",
        statistic="geometric mean over epochs > 0 estimated along both of R_hat(signSGD traj.) "
        "/ R_hat(SGD traj.)",
        direction="similar", band=s.similar_factor, estimates=True,
        per_seed=partial(rhat_similar, model=model), **common,
    )  # fmt: skip
    if model == "cnn":
        return [
            Claim("a_loss", statement="CNN: signSGD reaches a lower training loss than SGD",
                  statistic=loss.format(behind="SGD", ahead="signSGD"), direction="above",
                  per_seed=partial(loss_ratio, model=model, behind="sgd", ahead="signsgd",
                                   tail=tail), **common),
            Claim("a_rhat_early", statement="CNN: R_hat is above 1 early on",
                  statistic=f"geometric mean of R_hat at 0 < epoch <= {s.early_fraction:g} x "
                  "last, both trajectories, plus epoch 0 once", direction="above",
                  per_seed=partial(rhat_pooled, model=model, early_fraction=s.early_fraction),
                  estimates=True, **common),
            similar,
        ]  # fmt: skip
    if model == "resnet20":
        return [
            Claim("b_loss", statement="ResNet20: SGD reaches a lower training loss than signSGD",
                  statistic=loss.format(behind="signSGD", ahead="SGD"), direction="above",
                  per_seed=partial(loss_ratio, model=model, behind="signsgd", ahead="sgd",
                                   tail=tail), **common),
            Claim("b_rhat", statement="ResNet20: R_hat stays below 1",
                  statistic="geometric mean of R_hat over every estimate after epoch 0, both "
                  "trajectories, plus epoch 0 once", direction="below",
                  per_seed=partial(rhat_pooled, model=model, early_fraction=None),
                  estimates=True, **common),
            similar,
        ]  # fmt: skip
    return []


def model_name(model: str) -> str:
    return {"cnn": "CNN", "resnet20": "ResNet20"}.get(model, model)


MODELS = ("cnn", "resnet20")


def compute_claims(
    metrics: pd.DataFrame,
    smoothness: pd.DataFrame,
    step_sizes: pd.DataFrame,
    settings: ClaimSettings,
) -> pd.DataFrame:
    """The Figure 3 claims table (``signgeom.analysis.claims.COLUMNS``), in the paper's order
    (a, b, c)."""
    claim_set = ClaimSet(
        declare=partial(declare, s=settings), screen=screen, estimates_table="smoothness"
    )
    tables = {"metrics": metrics, "smoothness": smoothness}
    table = claims_table(claim_set, tables, MODELS, step_sizes, settings.level)
    order = {
        name: i
        for i, name in enumerate(
            ("a_loss", "a_rhat_early", "b_loss", "b_rhat", "c_similar_cnn", "c_similar_resnet20")
        )
    }
    return table.sort_values("claim", key=lambda c: c.map(order), kind="stable").reset_index(
        drop=True
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Figure 3 claims: statistics, intervals, verdicts.")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.csv tables (concatenated)")
    p.add_argument("--smoothness", nargs="+", required=True, help="smoothness.csv tables")
    p.add_argument("--step-sizes", nargs="+", required=True, help="step_sizes.csv tables")
    p.add_argument("--out", type=Path, required=True, help="claims.csv")
    ClaimSettings.add_arguments(p)
    a = p.parse_args(argv)
    table = compute_claims(
        read_inputs(a.metrics, "metrics"),
        read_inputs(a.smoothness, "smoothness"),
        read_inputs(a.step_sizes, "step sizes"),
        ClaimSettings.from_args(a),
    )
    write_claims(table, a.out, log)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
