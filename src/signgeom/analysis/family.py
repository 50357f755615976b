"""The sign-family table: every number the family figure draws, per (model, optimizer, epoch).

``family.csv`` is long: one row per (model, optimizer, quantity, epoch) with ``mean``, ``lo``
and ``hi`` over the seeds of the selected runs (``lo``/``hi``: smallest and largest seed's
value, equal to ``mean`` for one seed) and ``n_seeds``. Quantities:

- ``train_loss``: the per-epoch training loss (``metrics.csv``) of the selected step size;
- ``sign_agreement`` and ``cosine``: the update along that trajectory against signSGD with
  momentum from the same warm-up (``signgeom.estimate.similarity``), at the snapshot epochs.

Only models that list an optimizer beyond ``FIGURE3_OPTIMIZERS`` (the paper's pair) are in it.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from signgeom.cli import run_cli
from signgeom.io import read_table, write_table

log = logging.getLogger(__name__)

FIGURE3_OPTIMIZERS = ("sgd", "signsgd")
QUANTITIES = ("train_loss", "sign_agreement", "cosine")
COLUMNS = ["model", "optimizer", "lr", "quantity", "epoch", "mean", "lo", "hi", "n_seeds"]


def family_models(models: Mapping[str, Mapping]) -> list[str]:
    """Models whose ``step_sizes`` list an optimizer beyond sgd and signsgd (config order)."""
    return [m for m, spec in models.items() if set(spec["step_sizes"]) - set(FIGURE3_OPTIMIZERS)]


def _summarise(long: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """mean / min / max / count over seeds of ``quantity`` per (model, optimizer, lr, epoch)."""
    keys = ["model", "optimizer", "lr", "epoch"]
    grouped = long.groupby(keys, sort=True)[quantity]
    out = grouped.agg(mean="mean", lo="min", hi="max", n_seeds="count").reset_index()
    out["quantity"] = quantity
    return out


def family_table(
    metrics: pd.DataFrame, similarity: pd.DataFrame, models: Sequence[str]
) -> pd.DataFrame:
    """``family.csv`` from the tables' ``metrics.csv`` (selected, non-diverged rows) and the
    concatenated similarity rows, restricted to ``models``."""
    if not models:
        raise ValueError(
            "no model lists an optimizer beyond sgd and signsgd in cifar.models.<model>."
            "step_sizes: the sign-family figure has nothing to draw"
        )
    chosen = metrics[metrics["selected"].astype(bool) & ~metrics["diverged"].astype(bool)]
    chosen = chosen[chosen["model"].isin(models)]
    sim = similarity[similarity["model"].isin(models)]
    missing = set(zip(chosen["model"], chosen["optimizer"], strict=True)) - set(
        zip(sim["model"], sim["optimizer"], strict=True)
    )
    if missing:
        raise ValueError(f"no similarity rows for the selected runs of {sorted(missing)}")
    parts = [_summarise(chosen, "train_loss")]
    parts += [_summarise(sim, q) for q in ("sign_agreement", "cosine")]
    table = pd.concat(parts, ignore_index=True)[COLUMNS]
    order = {q: i for i, q in enumerate(QUANTITIES)}
    table = table.sort_values(
        ["model", "optimizer", "quantity", "epoch"],
        key=lambda c: c.map(order) if c.name == "quantity" else c,
    )
    return table.reset_index(drop=True)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--metrics", type=Path, required=True, help="results/cifar/metrics.csv")
    p.add_argument("--similarity", type=Path, nargs="+", required=True, help="per-run CSVs")
    p.add_argument("--models", nargs="*", required=True, help="models of the family figure")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    sims = [read_table(path) for path in args.similarity]
    similarity = pd.concat([s for s in sims if len(s)], ignore_index=True)
    table = family_table(read_table(args.metrics), similarity, args.models)
    write_table(table, args.out)
    log.info("wrote %d rows to %s", len(table), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
