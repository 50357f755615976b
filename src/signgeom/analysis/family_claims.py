"""The sign-family figure's questions, declared for the claims engine (``family_claims.csv``).

Per model of the family figure, from the selected runs (``metrics.csv``), R_hat along them
(``smoothness.csv``) and their similarity to signSGD-momentum (the similarity tables), per seed.
A run's loss is ``exp(mean log train_loss)`` over the last ``loss_tail_fraction`` of the epochs
every selected run of the seed reached (:func:`signgeom.analysis.statistics.tail_log_loss`):

- ``winner``: the optimizer with the lowest loss (geometric mean over seeds) and ``q =
  L(runner-up) / L(winner) > 1``;
- ``sign_like_ahead``: the best sign-like optimizer (:data:`SIGN_LIKE`) against SGD,
  ``q = L(sgd) / min over sign-like L > 1``;
- ``rhat_above_1``: the geometric mean of R_hat over the estimates after epoch 0 along every
  selected trajectory, plus epoch 0 (their shared start) once, ``> 1`` (the paper: sign
  descent's geometry is the favourable one);
- ``rhat_predicts``: R_hat predicted the comparison: the two verdicts above agree (both hold or
  both fail: holds; opposite: fails; else inconclusive);
- ``closer_than_sgd_<opt>``: per optimizer but SGD and signSGD, whether its update is closer
  to signSGD-momentum's (from the same state) than SGD's is: ``q`` = the geometric mean over
  the snapshot epochs of ``cosine(opt) / cosine(sgd)``, ``> 1`` (not positive where a cosine
  is not). The cosine, not the sign agreement: SGD's and Adam's updates have the signs of
  the heavy-ball buffer, so their sign agreement with signSGD-momentum is 1 by construction.

Seeds excluded from every claim of a model: as in
:func:`signgeom.analysis.figure3_claims.screen`, over every selected optimizer. Intervals,
verdicts and the table: :mod:`signgeom.analysis.claims`.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.analysis.claims import (
    Agreement,
    Claim,
    ClaimSet,
    Tables,
    claims_table,
    read_input,
    read_inputs,
    write_claims,
)
from signgeom.analysis.figure3_claims import (
    SIGN_LIKE,
    estimate_problems,
    missing_trajectories,
    run_problems,
    selected_runs,
)
from signgeom.analysis.settings import ClaimSettings
from signgeom.analysis.statistics import pooled_geomean, tail_log_loss, window_holds_estimates
from signgeom.cli import run_cli
from signgeom.io import read_table

log = logging.getLogger(__name__)


def optimizers(tables: Tables, model: str) -> list[str]:
    """The optimizers with a selected run of ``model``, sorted."""
    return sorted(set(selected_runs(tables["metrics"], model)["optimizer"]))


def screen(tables: Tables, model: str) -> dict[int, str]:
    """The seeds of ``model`` excluded from all its claims, with the reason."""
    opts = optimizers(tables, model)
    runs = selected_runs(tables["metrics"], model)
    est = tables["smoothness"]
    est = est[(est["model"] == model) & est["optimizer"].isin(opts)]
    sim = tables["similarity"]
    sim = sim[sim["model"] == model]
    out = missing_trajectories({"trajectory": runs, "estimates": est, "similarity": sim}, opts)
    for reasons in (run_problems(runs), estimate_problems(est)):
        for seed, reason in reasons.items():
            out.setdefault(seed, reason)
    return out


def log_losses(tables: Tables, model: str, tail: float) -> pd.DataFrame:
    """Seeds x optimizers: mean log training loss over the tail of the common epochs."""
    runs = selected_runs(tables["metrics"], model)
    out = {}
    for seed, rows in runs.groupby("seed"):
        curves = rows.pivot_table(index="epoch", columns="optimizer", values="train_loss")
        logs = tail_log_loss(curves, tail)
        if len(logs):
            out[int(seed)] = logs
    return pd.DataFrame(out).T.sort_index()


def loss_ratio(tables: Tables, model: str, tail: float, behind: Sequence[str],
               ahead: Sequence[str]) -> pd.Series:  # fmt: skip
    """Per seed: ``exp(min over behind - min over ahead)`` of the mean log losses."""
    logs = log_losses(tables, model, tail)
    if logs.empty or not set(behind) | set(ahead) <= set(logs.columns):
        return pd.Series(dtype=float)
    return np.exp(logs[list(behind)].min(axis=1) - logs[list(ahead)].min(axis=1))


def rhat_pooled(tables: Tables, model: str) -> pd.Series:
    """Per seed: :func:`pooled_geomean` of R_hat along every selected trajectory."""
    est = tables["smoothness"]
    est = est[(est["model"] == model) & est["optimizer"].isin(optimizers(tables, model))]
    return pd.Series(
        {int(seed): pooled_geomean(r) for seed, r in (
            (seed, rows.pivot_table(index="epoch", columns="optimizer", values="R_hat"))
            for seed, rows in est.groupby("seed")) if window_holds_estimates(r, None)},
        dtype=float,
    )  # fmt: skip


def cosine_ratio(tables: Tables, model: str, opt: str) -> pd.Series:
    """Per seed: geometric mean over epochs of cosine(opt) / cosine(sgd) (NaN where a cosine
    is not positive: the seed has no usable value)."""
    sim = tables["similarity"]
    cos = sim[sim["model"] == model].pivot_table(
        index=["seed", "epoch"], columns="optimizer", values="cosine"
    )
    if opt not in cos or "sgd" not in cos:
        return pd.Series(dtype=float)
    both = cos[[opt, "sgd"]].dropna()
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(both[opt]) - np.log(both["sgd"])
    return logs.groupby(level="seed").mean().map(math.exp)


def declare(tables: Tables, model: str, s: ClaimSettings) -> list[Claim | Agreement]:
    """The rows of the module docstring for ``model``."""
    logs = log_losses(tables, model, s.loss_tail_fraction)
    if logs.empty:
        return []
    opts = list(logs.columns)
    order = logs.mean().sort_values().index
    winner, runner = order[0], order[1]
    tail = (f"training loss exp(mean log L) over the last ceil({s.loss_tail_fraction:g} x E) "
            "epochs, E the last epoch every selected run reached")  # fmt: skip
    sign_like = [o for o in SIGN_LIKE if o in opts]
    common = dict(model=model, min_seeds=s.min_seeds)
    ahead, above = f"fam_sign_like_ahead_{model}", f"fam_rhat_above_1_{model}"
    claims: list[Claim | Agreement] = [
        Claim(f"fam_winner_{model}",
              statement=f"{model}: {winner} reaches the lowest final training loss of "
              f"{', '.join(order)}",
              statistic=f"{tail}, {runner} (runner-up) / {winner}", direction="above",
              per_seed=partial(loss_ratio, model=model, tail=s.loss_tail_fraction,
                               behind=[runner], ahead=[winner]),
              selections=tuple(opts), **common),
        Claim(ahead,
              statement=f"{model}: the best sign-like optimizer ({', '.join(sign_like)}) "
              "reaches a lower final training loss than SGD",
              statistic=f"{tail}, sgd / best sign-like", direction="above",
              per_seed=partial(loss_ratio, model=model, tail=s.loss_tail_fraction,
                               behind=["sgd"], ahead=sign_like),
              selections=("sgd", *sign_like), **common),
        Claim(above, statement=f"{model}: R_hat along the selected trajectories is above 1",
              statistic="geometric mean of R_hat over every estimate after epoch 0 of every "
              "selected trajectory, plus epoch 0 once", direction="above",
              per_seed=partial(rhat_pooled, model=model), selections=tuple(opts),
              estimates=True, **common),
        Agreement(f"fam_rhat_predicts_{model}", model,
                  f"{model}: R_hat predicted whether the sign-like optimizers beat SGD",
                  ahead, above),
    ]  # fmt: skip
    for opt in [o for o in opts if o not in ("sgd", "signsgd")]:
        claims.append(Claim(
            f"fam_closer_than_sgd_{opt}_{model}",
            statement=f"{model}: {opt}'s update is closer to signSGD-momentum's than SGD's is",
            statistic="geometric mean over snapshot epochs of cosine(opt) / cosine(sgd), both "
            "against signSGD-momentum", direction="above",
            per_seed=partial(cosine_ratio, model=model, opt=opt), selections=(opt, "sgd"),
            **common,
        ))  # fmt: skip
    return claims


def family_claims(
    metrics: pd.DataFrame,
    smoothness: pd.DataFrame,
    similarity: pd.DataFrame,
    step_sizes: pd.DataFrame,
    models: Sequence[str],
    settings: ClaimSettings,
) -> pd.DataFrame:
    """Every model's rows."""
    for model in models:
        opts = set(selected_runs(metrics, model)["optimizer"])
        if missing := sorted(opts - set(similarity.loc[similarity["model"] == model,
                                                        "optimizer"])):  # fmt: skip
            raise ValueError(f"no similarity rows for the selected {model} runs of {missing}")
    claim_set = ClaimSet(
        declare=partial(declare, s=settings), screen=screen, estimates_table="smoothness"
    )
    tables = {"metrics": metrics, "smoothness": smoothness, "similarity": similarity}
    return claims_table(claim_set, tables, models, step_sizes, settings.level)


def similarity_tables(paths: Sequence[Path]) -> pd.DataFrame:
    """The per-run similarity tables, concatenated (a run's table may be header-only; all of
    them empty is an error naming them)."""
    tables = [read_table(path) for path in paths]
    kept = [t for t in tables if len(t)]
    if not kept:
        raise ValueError(f"similarity tables {[str(p) for p in paths]}: no rows in any")
    return pd.concat(kept, ignore_index=True)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--metrics", type=Path, required=True, help="metrics.csv")
    p.add_argument("--smoothness", type=Path, required=True, help="smoothness.csv")
    p.add_argument("--similarity", type=Path, nargs="+", required=True, help="per-run CSVs")
    p.add_argument("--step-sizes", type=Path, nargs="+", required=True, help="step_sizes.csv")
    p.add_argument("--models", nargs="+", required=True, help="models of the family figure")
    p.add_argument("--out", type=Path, required=True, help="family_claims.csv")
    ClaimSettings.add_arguments(p)
    a = p.parse_args(argv)
    table = family_claims(
        read_input(a.metrics, "metrics"),
        read_input(a.smoothness, "smoothness"),
        similarity_tables(a.similarity),
        read_inputs(a.step_sizes, "step sizes"),
        a.models,
        ClaimSettings.from_args(a),
    )
    write_claims(table, a.out, log)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
