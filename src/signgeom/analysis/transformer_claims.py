"""The transformer claims (t1-t3), declared for the claims engine.

Per model (a ``cifar.models`` entry of the language-model task, one per batch size) and seed,
from the selected runs (``metrics.csv``) and R_hat along them (``smoothness.csv``), each
claim's ratio ``q_s``, by :mod:`signgeom.analysis.statistics`:

- ``t1_<opt>_<model>`` (opt: signSGD-momentum, Adam, each where the model has it):
  ``q_s = exp(mean log L_SGD - mean log L_opt)`` over the last ``loss_tail_fraction`` of
  the epochs (the engine's loss statistic), above 1; ``t1_<opt>_vs_cnn_<model>``: the same
  ratio above the CNN's (``a_loss`` of the subset reference's claims table, its point value
  as the threshold);
- ``t2_rhat_<model>``: the geometric mean of R_hat over every estimate after epoch 0 along
  every selected trajectory, plus epoch 0 once, above 1;
- ``t3_<opt>``: the loss ratio of ``opt`` at the largest batch over the same seed's ratio at
  the smallest batch, above 1 (declared under the largest batch's model).

A seed is screened out of a model's claims as in Figure 3 (:mod:`figure3_claims`): a diverged
or unfinished selected run, a non-finite loss, a non-finite or non-positive estimate, a missing
trajectory. Intervals, verdicts and the table: :mod:`signgeom.analysis.claims`. The losses
table beside it (:func:`final_losses`) holds each selected run's last training and held-out
losses.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import pandas as pd

from signgeom.analysis.claims import (
    Claim,
    ClaimSet,
    Tables,
    claims_table,
    read_inputs,
    write_claims,
)
from signgeom.analysis.figure3_claims import (
    by_seed,
    estimate_problems,
    missing_trajectories,
    run_problems,
    selected_runs,
)
from signgeom.analysis.settings import ClaimSettings
from signgeom.analysis.statistics import pooled_geomean, tail_loss_ratio, window_holds_estimates
from signgeom.cli import run_cli
from signgeom.io import read_table, write_table

log = logging.getLogger(__name__)

BASELINE = "sgd"
CHALLENGERS = ("signsgd", "adam")
TRAJECTORIES = (BASELINE, *CHALLENGERS)
LABELS = {"sgd": "SGD-momentum", "signsgd": "signSGD-momentum", "adam": "Adam"}
CNN_CLAIM = "a_loss"
LOSS_COLUMNS = ("train_loss", "train_loss_eval", "test_loss", "test_acc")


def trajectories(tables: Tables, model: str) -> list[str]:
    """The optimizers of :data:`TRAJECTORIES` that ``model`` was trained with."""
    metrics = tables["metrics"]
    trained = set(metrics.loc[metrics["model"] == model, "optimizer"])
    return [o for o in TRAJECTORIES if o in trained]


def screen(tables: Tables, model: str) -> dict[int, str]:
    """The seeds of ``model`` excluded from all its claims, with the reason."""
    runs = selected_runs(tables["metrics"], model)
    est = tables["smoothness"]
    est = est[(est["model"] == model) & est["optimizer"].isin(TRAJECTORIES)]
    out = missing_trajectories({"trajectory": runs, "estimates": est}, trajectories(tables, model))
    for reasons in (run_problems(runs), estimate_problems(est)):
        for seed, reason in reasons.items():
            out.setdefault(seed, reason)
    return out


def loss_ratios(tables: Tables, model: str, ahead: str, tail: float) -> pd.Series:
    """Per seed: :func:`tail_loss_ratio` of SGD over ``ahead``."""
    curves = by_seed(selected_runs(tables["metrics"], model), "train_loss")
    return pd.Series(
        {s: tail_loss_ratio(c, BASELINE, ahead, tail) for s, c in curves.items()
         if BASELINE in c and ahead in c},
        dtype=float,
    )  # fmt: skip


def gap_growth(tables: Tables, small: str, large: str, ahead: str, tail: float) -> pd.Series:
    """Per seed present at both batch sizes: the loss ratio at ``large`` over that at
    ``small``."""
    at_large, at_small = (loss_ratios(tables, m, ahead, tail) for m in (large, small))
    return (at_large / at_small).dropna()


def rhat_all(tables: Tables, model: str) -> pd.Series:
    """Per seed: :func:`pooled_geomean` of R_hat over every estimate of every trajectory."""
    est = tables["smoothness"]
    est = est[(est["model"] == model) & est["optimizer"].isin(TRAJECTORIES)]
    return pd.Series(
        {s: pooled_geomean(r) for s, r in by_seed(est, "R_hat").items()
         if window_holds_estimates(r, None)},
        dtype=float,
    )  # fmt: skip


def declare(
    tables: Tables,
    model: str,
    s: ClaimSettings,
    batch_sizes: Mapping[str, int],
    cnn_ratio: float,
) -> list[Claim]:
    """The claims of ``model`` for the optimizers it was trained with (t3 under the largest
    batch's model, when there are two batch sizes)."""
    trained = trajectories(tables, model)
    if BASELINE not in trained:
        return []
    tail = s.loss_tail_fraction
    challengers = [o for o in CHALLENGERS if o in trained]
    common = dict(model=model, min_seeds=s.min_seeds, selections=tuple(trained))
    batch = f"{model} (batch {batch_sizes[model]})"
    loss = "exp(mean log L_SGD - mean log L_{opt}), training loss over the last ceil({t:g} x E) "
    loss += "epochs, E the last epoch both runs reached"
    out = []
    for opt in challengers:
        ratio = partial(loss_ratios, model=model, ahead=opt, tail=tail)
        statistic = loss.format(opt=LABELS[opt], t=tail)
        out.append(
            Claim(f"t1_{opt}_{model}", statement=f"{batch}: {LABELS[opt]} reaches a lower "
                  "training loss than SGD-momentum", statistic=statistic, direction="above",
                  per_seed=ratio, **common)
        )  # fmt: skip
        out.append(
            Claim(f"t1_{opt}_vs_cnn_{model}", statement=f"{batch}: the loss ratio SGD / "
                  f"{LABELS[opt]} is larger than the CNN's SGD / signSGD on the subset reference",
                  statistic=f"{statistic}; threshold: the CNN's {CNN_CLAIM} value",
                  direction="above", threshold=cnn_ratio, per_seed=ratio, **common)
        )  # fmt: skip
    out.append(
        Claim(f"t2_rhat_{model}", statement=f"{batch}: R_hat is above 1 along the selected "
              "trajectories", statistic="geometric mean of R_hat over every estimate after "
              "epoch 0, every trajectory, plus epoch 0 once", direction="above",
              per_seed=partial(rhat_all, model=model), estimates=True, **common)
    )  # fmt: skip
    small, large = min(batch_sizes, key=batch_sizes.get), max(batch_sizes, key=batch_sizes.get)
    if model == large and small != large:
        for opt in challengers:
            out.append(
                Claim(f"t3_{opt}", statement=f"the loss ratio SGD / {LABELS[opt]} grows with "
                      f"the batch size ({small} -> {large})", statistic=f"per seed: the t1 "
                      f"ratio at batch {batch_sizes[large]} over the ratio at batch "
                      f"{batch_sizes[small]}", direction="above",
                      per_seed=partial(gap_growth, small=small, large=large, ahead=opt,
                                       tail=tail), **common)
            )  # fmt: skip
    return out


def cnn_loss_ratio(cnn_claims: pd.DataFrame) -> float:
    """The CNN's SGD / signSGD loss ratio (``a_loss``'s value) of a Figure 3 claims table."""
    rows = cnn_claims[cnn_claims["claim"] == CNN_CLAIM]
    if rows.empty:
        raise ValueError(f"the CNN claims table has no {CNN_CLAIM} row")
    return float(rows["value"].iloc[0])


def compute_claims(
    metrics: pd.DataFrame,
    smoothness: pd.DataFrame,
    step_sizes: pd.DataFrame,
    batch_sizes: Mapping[str, int],
    cnn_ratio: float,
    settings: ClaimSettings,
) -> pd.DataFrame:
    """The transformer claims table (``signgeom.analysis.claims.COLUMNS``), models in order of
    batch size."""
    declared = partial(declare, s=settings, batch_sizes=batch_sizes, cnn_ratio=cnn_ratio)
    claim_set = ClaimSet(declare=declared, screen=screen, estimates_table="smoothness")
    tables = {"metrics": metrics, "smoothness": smoothness}
    models = sorted(batch_sizes, key=batch_sizes.get)
    return claims_table(claim_set, tables, models, step_sizes, settings.level)


def final_losses(metrics: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """Per selected run of ``models``: the last epoch's training loss (minibatch mean and
    eval-mode pass), held-out loss and accuracy (the validation loss beside the training loss)."""
    runs = metrics[metrics["model"].isin(models)]
    runs = runs[runs["selected"].astype(str).str.lower() == "true"]
    keys = ["model", "optimizer", "lr", "seed"]
    last = runs.sort_values("epoch").groupby(keys).tail(1)
    return last[[*keys, "epoch", *LOSS_COLUMNS]].sort_values(keys).reset_index(drop=True)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Transformer claims (t1-t3): intervals, verdicts.")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.csv tables")
    p.add_argument("--smoothness", nargs="+", required=True, help="smoothness.csv tables")
    p.add_argument("--step-sizes", nargs="+", required=True, help="step_sizes.csv tables")
    p.add_argument("--models", nargs="+", required=True, help="the transformer models")
    p.add_argument("--batch-sizes", nargs="+", type=int, required=True, help="theirs, in order")
    p.add_argument("--cnn-claims", type=Path, required=True, help="the CNN's claims.csv")
    p.add_argument("--out", type=Path, required=True, help="claims table")
    p.add_argument("--out-losses", type=Path, required=True, help="final losses table")
    ClaimSettings.add_arguments(p)
    a = p.parse_args(argv)
    if len(a.models) != len(a.batch_sizes):
        p.error(f"{len(a.models)} models but {len(a.batch_sizes)} batch sizes")
    metrics = read_inputs(a.metrics, "metrics")
    table = compute_claims(
        metrics,
        read_inputs(a.smoothness, "smoothness"),
        read_inputs(a.step_sizes, "step sizes"),
        dict(zip(a.models, a.batch_sizes, strict=True)),
        cnn_loss_ratio(read_table(a.cnn_claims)),
        ClaimSettings.from_args(a),
    )
    write_table(final_losses(metrics, a.models), a.out_losses)
    write_claims(table, a.out, log)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
