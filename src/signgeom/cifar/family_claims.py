"""The sign-family figure's questions as computed verdicts (``family_claims.csv``).

Per model of the family figure, from the selected runs (``metrics.csv``), R_hat along them
(``smoothness.csv``) and their similarity to signSGD-momentum (the similarity tables), per seed:

- ``winner``: the optimizer with the lowest final training loss (geometric mean over seeds of
  the last epoch every selected run reached) and ``q = L(runner-up) / L(winner) > 1``;
- ``sign_like_ahead``: the best sign-like optimizer (:data:`SIGN_LIKE`) against SGD,
  ``q = L(sgd) / min over sign-like L > 1``;
- ``rhat_above_1``: the geometric mean of R_hat over every estimate along every selected
  trajectory of the model, ``> 1`` (the paper: sign descent's geometry is the favourable one);
- ``rhat_predicts``: R_hat predicted the comparison: holds when the two verdicts above agree
  (both hold or both fail), fails when they are opposite, else inconclusive (no value);
- ``closer_than_sgd_<opt>``: per optimizer but SGD and signSGD, whether its update is closer
  to signSGD-momentum's (from the same state) than SGD's is: ``q`` = the geometric mean over
  the snapshot epochs of ``cosine(opt) / cosine(sgd)``, ``> 1`` (NaN where a cosine is not
  positive). The cosine, not the sign agreement: SGD's and Adam's updates have the signs of
  the heavy-ball buffer, so their sign agreement with signSGD-momentum is 1 by construction.

Verdicts follow :mod:`signgeom.cifar.claims`.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import gmean

from signgeom.cifar.claims import COLUMNS, SIGN_LIKE, Claim, ClaimSettings, claim_row
from signgeom.cli import run_cli
from signgeom.io import read_table, write_table

log = logging.getLogger(__name__)

def final_losses(metrics: pd.DataFrame, model: str) -> pd.DataFrame:
    """Seeds x optimizers: each selected, completed run's training loss at the last epoch
    that every selected run of that seed reached."""
    runs = metrics[(metrics["model"] == model) & metrics["selected"].astype(bool)]
    runs = runs[runs["status"] == "completed"]
    out = {}
    for seed, by_seed in runs.groupby("seed"):
        loss = by_seed.pivot_table(index="epoch", columns="optimizer", values="train_loss")
        loss = loss.dropna()
        if len(loss):
            out[int(seed)] = loss.iloc[-1]
    return pd.DataFrame(out).T.sort_index()


def _cosine_ratio(cos: pd.DataFrame, opt: str) -> pd.Series:
    """Per seed: geometric mean over epochs of cosine(opt) / cosine(sgd) (NaN: a cosine <= 0)."""
    if opt not in cos or "sgd" not in cos:
        return pd.Series(dtype=float)
    both = cos[[opt, "sgd"]].dropna()
    ratio = both[opt] / both["sgd"]
    ratio[(both[opt] <= 0) | (both["sgd"] <= 0)] = np.nan
    return ratio.groupby(level="seed").apply(
        lambda r: float(gmean(r)) if r.notna().all() else np.nan
    )


def _combined(first: dict, second: dict) -> str:
    pair = {first["verdict"], second["verdict"]}
    if "inconclusive" in pair:
        return "inconclusive"
    return "holds" if len(pair) == 1 else "fails"


def model_claims(
    model: str,
    metrics: pd.DataFrame,
    smoothness: pd.DataFrame,
    similarity: pd.DataFrame,
    settings: ClaimSettings,
) -> list[dict]:
    """The rows of the module docstring for one model."""
    losses = final_losses(metrics, model)
    if losses.empty:
        return []
    order = losses.apply(gmean).sort_values()
    winner, runner = order.index[0], order.index[1]
    rows = [
        claim_row(
            Claim(f"fam_winner_{model}", model,
                  f"{model}: {winner} reaches the lowest final training loss of "
                  f"{', '.join(order.index)}",
                  f"final training loss, {runner} (runner-up) / {winner}", "above", None),
            losses[runner] / losses[winner], settings,
        )
    ]  # fmt: skip
    sign_like = [o for o in SIGN_LIKE if o in losses]
    ahead = claim_row(
        Claim(f"fam_sign_like_ahead_{model}", model,
              f"{model}: the best sign-like optimizer ({', '.join(sign_like)}) reaches a lower "
              "final training loss than SGD",
              "final training loss, sgd / best sign-like", "above", None),
        losses["sgd"] / losses[sign_like].min(axis=1), settings,
    )  # fmt: skip
    est = smoothness[(smoothness["model"] == model) & smoothness["optimizer"].isin(losses)]
    est = est[np.isfinite(est["R_hat"]) & (est["R_hat"] > 0)]
    above = claim_row(
        Claim(f"fam_rhat_above_1_{model}", model,
              f"{model}: R_hat along the selected trajectories is above 1",
              "geometric mean of R_hat over every estimate of every selected trajectory",
              "above", None),
        est.groupby("seed")["R_hat"].apply(gmean), settings,
    )  # fmt: skip
    predicts = {
        **{k: "" for k in COLUMNS},
        "claim": f"fam_rhat_predicts_{model}",
        "model": model,
        "statement": f"{model}: R_hat predicted whether the sign-like optimizers beat SGD",
        "statistic": "agreement of the two verdicts above",
        "direction": "agree",
        "threshold": "same verdict",
        "value": math.nan,
        "lo": math.nan,
        "hi": math.nan,
        "level": settings.level,
        "n_seeds": min(ahead["n_seeds"], above["n_seeds"]),
        "verdict": _combined(ahead, above),
        "note": f"sign-like ahead: {ahead['verdict']}; R_hat above 1: {above['verdict']}",
    }
    rows += [ahead, above, predicts]
    sim = similarity[similarity["model"] == model]
    if missing := sorted(set(losses.columns) - set(sim["optimizer"])):
        raise ValueError(f"no similarity rows for the selected {model} runs of {missing}")
    cos = sim.pivot_table(index=["seed", "epoch"], columns="optimizer", values="cosine")
    for opt in [o for o in losses.columns if o not in ("sgd", "signsgd")]:
        claim = Claim(
            f"fam_closer_than_sgd_{opt}_{model}", model,
            f"{model}: {opt}'s update is closer to signSGD-momentum's than SGD's is",
            "geometric mean over snapshot epochs of cosine(opt) / cosine(sgd), both against "
            "signSGD-momentum", "above", None,
        )  # fmt: skip
        rows.append(claim_row(claim, _cosine_ratio(cos, opt), settings))
    return rows


def family_claims(
    metrics: pd.DataFrame,
    smoothness: pd.DataFrame,
    similarity: pd.DataFrame,
    models: Sequence[str],
    settings: ClaimSettings,
) -> pd.DataFrame:
    """Every model's rows (``COLUMNS``)."""
    rows = [
        row
        for model in models
        for row in model_claims(model, metrics, smoothness, similarity, settings)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--metrics", type=Path, required=True, help="metrics.csv")
    p.add_argument("--smoothness", type=Path, required=True, help="smoothness.csv")
    p.add_argument("--similarity", type=Path, nargs="+", required=True, help="per-run CSVs")
    p.add_argument("--models", nargs="+", required=True, help="models of the family figure")
    p.add_argument("--level", type=float, required=True, help="interval level over seeds")
    p.add_argument("--out", type=Path, required=True, help="family_claims.csv")
    a = p.parse_args(argv)
    sims = [read_table(path) for path in a.similarity]
    similarity = pd.concat([s for s in sims if len(s)], ignore_index=True)
    table = family_claims(
        read_table(a.metrics),
        read_table(a.smoothness),
        similarity,
        a.models,
        ClaimSettings(level=a.level),
    )
    write_table(table, a.out)
    for row in table.itertuples():
        log.info("%s: %.4g -> %s", row.claim, row.value, row.verdict)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
