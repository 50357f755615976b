"""The paper's Figure 3 claims as computed verdicts (``claims.csv``).

Each claim reduces the tables to one number per seed, a ratio ``q_s`` whose threshold is 1:

- ``loss`` (a: CNN, signSGD ahead; b: ResNet20, SGD ahead): ``q_s = L_behind / L_ahead``,
  the selected runs' training losses (``train_loss``: mean minibatch loss of the epoch, the
  quantity selection and Figure 3 use) at the last epoch both runs of seed ``s`` reached;
- ``rhat_early`` (a): the geometric mean of ``R_hat`` over the estimates at epochs
  ``<= early_fraction * last epoch``, both trajectories pooled;
- ``rhat_all`` (b): the geometric mean of ``R_hat`` over every estimate, both trajectories;
- ``similar`` (c, every model): the geometric mean over the epochs estimated along both
  trajectories of ``R_hat(signSGD trajectory) / R_hat(SGD trajectory)``.

Across seeds, the statistic is the geometric mean of ``q_s`` with its t-interval of
``log q_s`` at ``level`` (``signgeom.stats.geometric_t_interval``). Verdict rule:

- ``above`` claims hold when ``lo > 1``, fail when ``hi < 1``; ``below`` claims mirror it;
- ``similar`` holds when ``[lo, hi]`` lies inside ``[1/f, f]`` (``f = similar_factor``),
  fails when it lies entirely outside;
- otherwise (the interval contains the threshold) ``inconclusive``.

With one seed there is no interval: the verdict is read off the point value and the ``note``
column says so.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.cli import run_cli
from signgeom.io import read_table, write_table
from signgeom.stats import geometric_t_interval, t_interval

log = logging.getLogger(__name__)

VERDICTS = ("holds", "fails", "inconclusive")
SIGN_LIKE = ("signsgd", "adam", "lion")  # updates of (near-)constant size per coordinate
COLUMNS = [
    *("claim", "model", "statement", "statistic", "direction", "threshold"),
    *("value", "lo", "hi", "level", "n_seeds", "per_seed", "verdict", "note"),
]


@dataclass(frozen=True)
class ClaimSettings:
    """``cifar.claims``: interval level, early window and the factor that counts as similar."""

    level: float = 0.9
    early_fraction: float = 0.25
    similar_factor: float = 1.5


def _selected(metrics: pd.DataFrame, model: str) -> pd.DataFrame:
    m = metrics[(metrics["model"] == model) & metrics["selected"].astype(bool)]
    return m[m["status"] == "completed"]


def final_loss_ratio(behind: str, ahead: str) -> Callable:
    """Per seed: L_behind / L_ahead at the last epoch both selected runs reached."""

    def per_seed(metrics: pd.DataFrame, smoothness: pd.DataFrame, model: str, _s) -> pd.Series:
        runs = _selected(metrics, model)
        out = {}
        for seed, by_seed in runs.groupby("seed"):
            loss = by_seed.pivot_table(index="epoch", columns="optimizer", values="train_loss")
            if behind not in loss or ahead not in loss:
                continue
            both = loss[[behind, ahead]].dropna()
            if len(both):
                last = both.iloc[-1]
                out[seed] = float(last[behind] / last[ahead])
        return pd.Series(out, dtype=float)

    return per_seed


def _rhat(smoothness: pd.DataFrame, model: str) -> pd.DataFrame:
    return smoothness[smoothness["model"] == model]


def rhat_geomean(early: bool) -> Callable:
    """Per seed: geometric mean of R_hat over the window, both trajectories pooled."""

    def per_seed(metrics, smoothness, model: str, s: ClaimSettings) -> pd.Series:
        est = _rhat(smoothness, model)
        if early and len(est):
            est = est[est["epoch"] <= s.early_fraction * est["epoch"].max()]
        return est.groupby("seed")["R_hat"].apply(lambda r: float(np.exp(np.log(r).mean())))

    return per_seed


def trajectory_ratio(metrics, smoothness, model: str, s: ClaimSettings) -> pd.Series:
    """Per seed: geometric mean over common epochs of R_hat(signSGD) / R_hat(SGD)."""
    est = _rhat(smoothness, model)
    out = {}
    for seed, by_seed in est.groupby("seed"):
        r = by_seed.pivot_table(index="epoch", columns="optimizer", values="R_hat")
        if {"sgd", "signsgd"} <= set(r.columns):
            both = r[["sgd", "signsgd"]].dropna()
            if len(both):
                out[seed] = float(np.exp(np.log(both["signsgd"] / both["sgd"]).mean()))
    return pd.Series(out, dtype=float)


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: its model, the per-seed ratio and the direction of the test."""

    name: str
    model: str
    statement: str
    statistic: str
    direction: str  # above | below | similar
    per_seed: Callable


LOSS_CNN = "final training loss, SGD / signSGD"
LOSS_RESNET = "final training loss, signSGD / SGD"
EARLY = "geometric mean of R_hat at epochs <= early_fraction x last, both trajectories"
ALL = "geometric mean of R_hat over all estimates, both trajectories"
SIMILAR = "geometric mean over epochs of R_hat(signSGD traj.) / R_hat(SGD traj.)"
CLAIMS: tuple[Claim, ...] = (
    Claim("a_loss", "cnn", "CNN: signSGD reaches a lower training loss than SGD", LOSS_CNN,
          "above", final_loss_ratio("sgd", "signsgd")),
    Claim("a_rhat_early", "cnn", "CNN: R_hat is above 1 early on", EARLY, "above",
          rhat_geomean(early=True)),
    Claim("b_loss", "resnet20", "ResNet20: SGD reaches a lower training loss than signSGD",
          LOSS_RESNET, "above", final_loss_ratio("signsgd", "sgd")),
    Claim("b_rhat", "resnet20", "ResNet20: R_hat stays below 1", ALL, "below",
          rhat_geomean(early=False)),
    Claim("c_similar_cnn", "cnn", "CNN: R_hat along the two trajectories is similar", SIMILAR,
          "similar", trajectory_ratio),
    Claim("c_similar_resnet20", "resnet20",
          "ResNet20: R_hat along the two trajectories is similar", SIMILAR, "similar",
          trajectory_ratio),
)  # fmt: skip


def verdict(
    direction: str, value: float, lo: float, hi: float, factor: float, threshold: float = 1.0
) -> str:
    """``holds | fails | inconclusive`` by the rule of the module docstring (``above`` and
    ``below`` against ``threshold``, 1 for a ratio); with no interval (NaN bounds: one seed)
    the point value stands in for both bounds."""
    if math.isnan(value):
        return "inconclusive"
    if math.isnan(lo) or math.isnan(hi):
        lo = hi = value
    if direction == "above":
        return "holds" if lo > threshold else "fails" if hi < threshold else "inconclusive"
    if direction == "below":
        return "holds" if hi < threshold else "fails" if lo > threshold else "inconclusive"
    if direction == "similar":
        if 1 / factor <= lo and hi <= factor:
            return "holds"
        return "fails" if hi < 1 / factor or lo > factor else "inconclusive"
    raise ValueError(f"direction must be above, below or similar, got {direction!r}")


def claim_row(
    claim: Claim,
    per_seed: pd.Series,
    settings: ClaimSettings,
    *,
    threshold: float = 1.0,
    geometric: bool = True,
    factor: float | None = None,
) -> dict:
    """One row of ``COLUMNS``: the mean over seeds of ``per_seed`` (geometric for ratios,
    arithmetic for fractions) with its t-interval at ``settings.level``, and the verdict of
    ``claim.direction`` against ``threshold`` (``similar``: within ``x/÷ factor``, by default
    ``settings.similar_factor``)."""
    per_seed = per_seed.sort_index()
    interval = geometric_t_interval if geometric else t_interval
    value, lo, hi, n = interval(per_seed.to_numpy(), settings.level)
    factor = settings.similar_factor if factor is None else factor
    shown = (
        f"[{1 / factor:.3g}, {factor:.3g}]" if claim.direction == "similar" else f"{threshold:g}"
    )
    note = {1: "one seed: no interval, verdict from the point value", 0: "no data"}.get(n, "")
    return {
        "claim": claim.name,
        "model": claim.model,
        "statement": claim.statement,
        "statistic": claim.statistic,
        "direction": claim.direction,
        "threshold": shown,
        "value": value,
        "lo": lo,
        "hi": hi,
        "level": settings.level,
        "n_seeds": n,
        "per_seed": " ".join(f"{s}:{v:.4g}" for s, v in per_seed.items()),
        "verdict": verdict(claim.direction, value, lo, hi, factor, threshold),
        "note": note,
    }


def compute_claims(
    metrics: pd.DataFrame, smoothness: pd.DataFrame, settings: ClaimSettings = ClaimSettings()
) -> pd.DataFrame:
    """One row per claim whose model is in the tables (columns ``COLUMNS``)."""
    models = set(metrics["model"])
    rows = [
        claim_row(claim, claim.per_seed(metrics, smoothness, claim.model, settings), settings)
        for claim in CLAIMS
        if claim.model in models
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Figure 3 claims: statistics, intervals, verdicts.")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.csv tables (concatenated)")
    p.add_argument("--smoothness", nargs="+", required=True, help="smoothness.csv tables")
    p.add_argument("--level", type=float, required=True, help="interval level, e.g. 0.9")
    p.add_argument("--early-fraction", type=float, required=True, help="early window")
    p.add_argument("--similar-factor", type=float, required=True, help="'similar' within x f")
    p.add_argument("--out", type=Path, required=True, help="claims.csv")
    a = p.parse_args(argv)
    metrics = pd.concat([read_table(f) for f in a.metrics], ignore_index=True)
    smoothness = pd.concat([read_table(f) for f in a.smoothness], ignore_index=True)
    settings = ClaimSettings(a.level, a.early_fraction, a.similar_factor)
    table = compute_claims(metrics, smoothness, settings)
    write_table(table, a.out)
    for row in table.itertuples():
        log.info("%s: %s = %.4g [%.4g, %.4g] -> %s", row.claim, row.statistic, row.value,
                 row.lo, row.hi, row.verdict)  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
