"""Figure 5's table: training in rotated coordinates, per (model, optimizer, theta, lr factor).

The runs of the rotation sweep (``cifar.rotation``) train each listed optimizer at its selected
step size times each factor (:func:`rotated_lr`), at each ``theta``, on every seed;
``theta = 0`` is the plain run (at factor 1 the Figure 3 run itself). One row per run:

* ``final_train_loss``: the run's last-epoch training loss (``status.json``; NaN if diverged);
* ``best``: the lowest ``final_train_loss`` over the factors at this (model, optimizer, seed,
  theta);
* on the factor-1 rows, the smoothness estimates along that trajectory taken in its rotated
  coordinates (at ``theta = 0`` Figure 3's, from ``smoothness.csv``): ``n_estimates`` epochs,
  the median, quartiles, minimum and maximum over them of ``R_hat`` and the medians of ``phi``,
  ``L2_hat`` and ``Linf_hat`` (non-finite estimates left out).

No torch import here: the workflow uses :func:`rotated_lr` to name the runs.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.analysis.probe_options import headline_rows
from signgeom.analysis.tables import combine_smoothness
from signgeom.cli import run_cli
from signgeom.io import read_table, write_table

log = logging.getLogger(__name__)

KEY = ["model", "optimizer", "seed", "theta"]
ESTIMATE_STATS = ["R_hat_median", "R_hat_q25", "R_hat_q75", "R_hat_min", "R_hat_max"]
ESTIMATE_MEDIANS = ["phi", "L2_hat", "Linf_hat"]


def rotated_lr(lr: float, factor: float) -> float:
    """``lr x factor`` to 6 significant digits (factor 1 gives ``lr`` itself)."""
    return float(f"{float(lr) * float(factor):.6g}")


def read_statuses(paths: Sequence[str | Path]) -> pd.DataFrame:
    """One row per run: its key, theta (0 for a plain run), outcome and final training loss."""
    rows = []
    for path in paths:
        s = json.loads(Path(path).read_text())
        loss = s["final_train_loss"] if s["status"] == "completed" else None
        rows.append(
            {
                "model": s["model"],
                "optimizer": s["optimizer"],
                "theta": float(s.get("rotation_theta", 0.0)),
                "lr": float(s["lr"]),
                "seed": int(s["seed"]),
                "status": s["status"],
                "epochs_completed": int(s["epochs_completed"]),
                "final_train_loss": np.nan if loss is None else float(loss),
            }
        )
    return pd.DataFrame(rows)


def with_factors(runs: pd.DataFrame, step_sizes: pd.DataFrame, factors: Sequence[float]):
    """``runs`` with ``lr_factor``: the factor whose :func:`rotated_lr` of the selected step
    size is the run's ``lr`` (a run matching none is an error)."""
    selected = step_sizes.set_index(["model", "optimizer"])["lr"]
    out = []
    for row in runs.itertuples(index=False):
        base = float(selected[(row.model, row.optimizer)])
        match = [f for f in factors if rotated_lr(base, f) == row.lr]
        if not match:
            raise ValueError(
                f"run {row.model}/{row.optimizer} at lr {row.lr} is not the selected step size "
                f"{base} times any of the factors {list(factors)}"
            )
        out.append(float(match[0]))
    return runs.assign(lr_factor=out)


def summarise_estimates(estimates: pd.DataFrame) -> pd.DataFrame:
    """Per (model, optimizer, seed, theta): R_hat's median, quartiles and range over the estimated
    epochs and the medians of phi, L2_hat and Linf_hat (finite estimates only)."""
    finite = estimates[np.isfinite(estimates["R_hat"])]
    groups = finite.groupby(KEY)
    r_hat = groups["R_hat"]
    table = pd.DataFrame(
        {
            "n_estimates": groups.size(),
            "R_hat_median": r_hat.median(),
            "R_hat_q25": r_hat.quantile(0.25),
            "R_hat_q75": r_hat.quantile(0.75),
            "R_hat_min": r_hat.min(),
            "R_hat_max": r_hat.max(),
        }
    )
    for col in ESTIMATE_MEDIANS:
        table[f"{col}_median"] = groups[col].median()
    return table.reset_index()


def rotation_table(
    runs: pd.DataFrame,
    step_sizes: pd.DataFrame,
    factors: Sequence[float],
    rotated_estimates: pd.DataFrame,
    plain_estimates: pd.DataFrame,
    block_size: int,
) -> pd.DataFrame:
    """The table of the module docstring. ``plain_estimates`` (Figure 3's smoothness table)
    gives theta = 0: its headline probe option's rows of the selected runs on the runs' seeds
    (:func:`signgeom.analysis.probe_options.headline_rows`)."""
    runs = with_factors(runs, step_sizes, factors)
    chosen = step_sizes[["model", "optimizer", "lr"]]
    seeds = runs["seed"].unique()
    plain = headline_rows(plain_estimates).merge(chosen, on=["model", "optimizer", "lr"])
    plain = plain[plain["seed"].isin(seeds)].assign(theta=0.0)
    rotated = rotated_estimates.rename(columns={"rotation_theta": "theta"})
    estimates = pd.concat([plain, rotated[rotated["theta"] != 0]], ignore_index=True)
    summary = summarise_estimates(estimates).assign(lr_factor=1.0)
    table = runs.merge(summary, on=[*KEY, "lr_factor"], how="left")
    table.insert(3, "block_size", np.where(table["theta"] == 0, np.nan, block_size))
    best = table.dropna(subset=["final_train_loss"]).groupby(KEY)["final_train_loss"].idxmin()
    table["best"] = table.index.isin(best.to_numpy())
    return table.sort_values([*KEY, "lr_factor"]).reset_index(drop=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--status", nargs="+", required=True, help="every run's status.json")
    parser.add_argument(
        "--step-sizes", nargs="+", required=True, help="the rotated models' selection tables"
    )
    parser.add_argument("--lr-factors", type=float, nargs="+", required=True)
    parser.add_argument("--block-size", type=int, required=True)
    parser.add_argument("--smoothness", nargs="*", default=[], help="rotated estimate shards")
    parser.add_argument(
        "--plain-smoothness",
        nargs="+",
        required=True,
        help="Figure 3's smoothness shards of the rotated models (or its smoothness.csv)",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    frames = [read_table(p) for p in args.smoothness]
    rotated = pd.concat([f for f in frames if len(f)], ignore_index=True) if frames else None
    if rotated is None or not len(rotated):
        rotated = pd.DataFrame(columns=["model", "optimizer", "rotation_theta", "R_hat"])
    table = rotation_table(
        read_statuses(args.status),
        pd.concat([read_table(p) for p in args.step_sizes], ignore_index=True),
        args.lr_factors,
        rotated,
        combine_smoothness(args.plain_smoothness),
        args.block_size,
    )
    write_table(table, args.out)
    log.info("wrote %d rows to %s", len(table), args.out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
