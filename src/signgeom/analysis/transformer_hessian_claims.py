"""Transformer claim t5: the Hessian's diagonal blocks differ more than the CNN's.

The statistic (:mod:`signgeom.analysis.hessian_heterogeneity`): per snapshot, the standard
deviation over the parameter blocks of ``ln lambda_max(H_bb)``; per seed, its mean over the
snapshots of the trajectories both networks have (the optimizers of :data:`TRAJECTORIES` present
in both tables). The CNN's value is the geometric mean over its seeds of the same per-seed
mean (:func:`cnn_value`, with its t-interval in the claim's statistic text); claim
``t5_<model>`` says the transformer's per-seed values lie above it: ``direction = above``,
``threshold`` the CNN's value, through the claims engine (:mod:`signgeom.analysis.claims`:
geometric t-interval over seeds, fewer than ``min_seeds`` seeds: inconclusive).
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
from signgeom.analysis.hessian_heterogeneity import STATISTIC, per_seed
from signgeom.analysis.settings import ClaimSettings
from signgeom.analysis.transformer_claims import LABELS, TRAJECTORIES
from signgeom.cli import run_cli
from signgeom.io import read_table
from signgeom.stats import geometric_t_interval

log = logging.getLogger(__name__)
CNN = "cnn"


def common_optimizers(transformer: pd.DataFrame, cnn: pd.DataFrame, model: str) -> list[str]:
    """The optimizers of :data:`TRAJECTORIES` with rows of ``model`` and of the CNN."""
    here = set(transformer.loc[transformer["model"] == model, "optimizer"])
    there = set(cnn.loc[cnn["model"] == CNN, "optimizer"])
    return [o for o in TRAJECTORIES if o in here and o in there]


def cnn_value(cnn: pd.DataFrame, optimizers: Sequence[str], level: float) -> tuple:
    """The CNN's (value, lo, hi, n seeds): geometric mean and t-interval over its seeds of
    :func:`per_seed`."""
    values = per_seed(cnn, CNN, optimizers).dropna()
    values = values[values > 0]
    if values.empty:
        raise ValueError(f"the CNN heterogeneity table has no seed with every one of {optimizers}")
    return geometric_t_interval(values.to_numpy(), level)


def transformer_values(tables: Tables, model: str, optimizers: Sequence[str]) -> pd.Series:
    """Per seed of ``model``: :func:`per_seed` of the heterogeneity table."""
    return per_seed(tables["heterogeneity"], model, optimizers)


def declare(
    tables: Tables, model: str, s: ClaimSettings, batch_sizes: Mapping[str, int]
) -> list[Claim]:
    """Claim ``t5_<model>`` (none where the model shares no optimizer with the CNN)."""
    het, cnn = tables["heterogeneity"], tables["cnn"]
    optimizers = common_optimizers(het, cnn, model)
    if not optimizers:
        return []
    value, lo, hi, n = cnn_value(cnn, optimizers, s.level)
    names = ", ".join(LABELS[o] for o in optimizers)
    statistic = (
        f"per seed: mean over the snapshots of the {names} trajectories of the std over the "
        f"parameter blocks b of ln lambda_max(H_bb); threshold: the CNN's value {value:.4g} "
        f"(geometric mean over {n} seeds, interval [{lo:.4g}, {hi:.4g}])"
    )
    return [
        Claim(f"t5_{model}", model=model, statement=f"{model} (batch {batch_sizes[model]}): the "
              "Hessian's diagonal blocks differ more than the CNN's (spread of their largest "
              "eigenvalues)", statistic=statistic, direction="above", threshold=value,
              per_seed=partial(transformer_values, model=model, optimizers=optimizers),
              min_seeds=s.min_seeds, selections=tuple(optimizers))
    ]  # fmt: skip


def compute_claims(
    heterogeneity: pd.DataFrame,
    cnn: pd.DataFrame,
    step_sizes: pd.DataFrame,
    batch_sizes: Mapping[str, int],
    settings: ClaimSettings,
) -> pd.DataFrame:
    """The t5 claims table (``signgeom.analysis.claims.COLUMNS``), models by batch size."""
    claim_set = ClaimSet(
        declare=partial(declare, s=settings, batch_sizes=batch_sizes),
        screen=lambda tables, model: {},
        estimates_table="heterogeneity",
        estimate_column=STATISTIC,
    )
    tables = {"heterogeneity": heterogeneity, "cnn": cnn}
    models = sorted(batch_sizes, key=batch_sizes.get)
    return claims_table(claim_set, tables, models, step_sizes, settings.level)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Transformer claim t5 (Hessian block heterogeneity).")
    p.add_argument("--heterogeneity", type=Path, required=True, help="the transformer's table")
    p.add_argument("--cnn-heterogeneity", type=Path, required=True, help="the CNN's table")
    p.add_argument("--step-sizes", nargs="+", required=True, help="step_sizes.csv tables")
    p.add_argument("--models", nargs="+", required=True, help="the transformer models")
    p.add_argument("--batch-sizes", nargs="+", type=int, required=True, help="theirs, in order")
    p.add_argument("--out", type=Path, required=True, help="claims table")
    ClaimSettings.add_arguments(p)
    a = p.parse_args(argv)
    if len(a.models) != len(a.batch_sizes):
        p.error(f"{len(a.models)} models but {len(a.batch_sizes)} batch sizes")
    table = compute_claims(
        read_table(a.heterogeneity),
        read_table(a.cnn_heterogeneity),
        read_inputs(a.step_sizes, "step sizes"),
        dict(zip(a.models, a.batch_sizes, strict=True)),
        ClaimSettings.from_args(a),
    )
    write_claims(table, a.out, log)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
