"""Step-size selection (paper Sec. 5.2): per (model, optimizer) the learning rate with the
largest decrease of training loss, ``train_loss(epoch 0) - train_loss(epoch E)``.

Rules:

- ``train_loss`` is the per-epoch training loss of ``metrics.csv``; its epoch-0 row is the
  train-mode loss of the initial parameters (see ``signgeom.training.train``).
- A run that diverged before ``E`` is excluded (below). One that stopped before ``E`` without
  diverging (it was trained for fewer epochs than the config now selects at) is refused with
  ``StaleRunError``, naming the run and both epochs: its training job must run again.
- Diverged runs (status ``"diverged"``, any ``diverged`` row, or a non-finite loss at the
  epoch used) are excluded, and so are runs whose loss did not decrease (decrease <= 0: a
  step size that made things worse is never "best", however finite its loss). If any seed of
  a learning rate is excluded, that learning rate is excluded altogether (an unstable step
  size is not a candidate); the decrease of the remaining learning rates is the mean over
  their seeds.
- The grid (for ``at_grid_edge``) is every learning rate tried for the (model, optimizer),
  diverged ones included; a warning is logged when the choice is its smallest or largest.
- If no learning rate of a (model, optimizer) is left, ``AllRunsDivergedError`` is raised.
"""

from __future__ import annotations

import argparse
import logging
import math

import pandas as pd

from signgeom.cli import run_cli
from signgeom.io import write_table
from signgeom.training.rundir import read_runs

log = logging.getLogger(__name__)

OUTPUT_COLUMNS = [
    "model",
    "optimizer",
    "lr",
    "train_loss_decrease",
    "at_grid_edge",
    "n_candidates",
    "n_seeds",
    "epoch_requested",
    "epoch_used",
    "grid_min",
    "grid_max",
]


class AllRunsDivergedError(ValueError):
    """No non-diverged learning rate is left for a (model, optimizer)."""


class StaleRunError(ValueError):
    """A run stopped before the selection epoch without diverging."""


def _run_decrease(metrics: pd.DataFrame, epoch: int) -> tuple[float, int, bool]:
    """(initial loss - loss at ``epoch`` or the last finite epoch of a diverged run, epoch
    used, excluded flag)."""
    m = metrics.sort_values("epoch")
    diverged = bool(m["diverged"].astype(bool).any()) if "diverged" in m else False
    diverged = diverged or ("status" in m and bool((m["status"] == "diverged").any()))
    last = int(m["epoch"].iloc[-1])
    if not diverged and last < epoch:
        key = m.iloc[0]
        raise StaleRunError(
            f"run model={key['model']} optimizer={key['optimizer']} lr={key['lr']} "
            f"seed={key['seed']} stopped at epoch {last} without diverging, before the "
            f"selection epoch {epoch}: its outputs are stale (trained for fewer epochs than "
            "cifar.models.<model>.epochs now asks). Rerun its training job, e.g. `snakemake "
            "--forcerun cifar_train` with the same config, or give selection_epoch <= "
            f"{last}."
        )
    finite = m[~m["diverged"].astype(bool)] if "diverged" in m else m
    if finite.empty or int(finite["epoch"].iloc[0]) != 0:
        raise ValueError("a run's metrics must contain the epoch-0 row")
    initial = float(finite["train_loss"].iloc[0])
    at = finite[finite["epoch"] <= epoch].iloc[-1]
    loss = float(at["train_loss"])
    bad = diverged or not (math.isfinite(loss) and math.isfinite(initial) and loss < initial)
    return initial - loss, int(at["epoch"]), bad


def select_step_sizes(runs: pd.DataFrame, epoch: int) -> pd.DataFrame:
    """Choose the lr per (model, optimizer) from a long table.

    ``runs`` has one row per (model, optimizer, lr, seed, epoch) with columns ``status``,
    ``train_loss`` and optionally ``diverged``. Returns one row per (model, optimizer)
    with the columns ``OUTPUT_COLUMNS``.
    """
    per_run = []
    for (model, opt, lr, seed), m in runs.groupby(["model", "optimizer", "lr", "seed"]):
        decrease, used, bad = _run_decrease(m, epoch)
        if "status" in m and (m["status"] == "diverged").any():
            bad = True
        per_run.append(
            {
                "model": model,
                "optimizer": opt,
                "lr": float(lr),
                "seed": seed,
                "decrease": decrease,
                "epoch_used": used,
                "bad": bad,
            }
        )
    table = pd.DataFrame(per_run)
    out = []
    for (model, opt), g in table.groupby(["model", "optimizer"]):
        grid = sorted(float(v) for v in g["lr"].unique())
        by_lr = g.groupby("lr").agg(
            decrease=("decrease", "mean"),
            bad=("bad", "any"),
            n_seeds=("seed", "nunique"),
            epoch_used=("epoch_used", "min"),
        )
        cand = by_lr[~by_lr["bad"]]
        if cand.empty:
            raise AllRunsDivergedError(
                f"all step sizes diverged for model={model!r}, optimizer={opt!r} "
                f"(grid {grid}); extend the grid to smaller step sizes (a run counts as "
                "diverged if its loss became non-finite, blew up or did not decrease)"
            )
        best_lr = float(cand["decrease"].idxmax())
        best = cand.loc[best_lr]
        edge = best_lr in (grid[0], grid[-1])
        if edge:
            log.warning(
                "model=%s optimizer=%s: chosen lr %g is at the edge of the grid %s",
                model,
                opt,
                best_lr,
                grid,
            )
        out.append(
            {
                "model": model,
                "optimizer": opt,
                "lr": best_lr,
                "train_loss_decrease": float(best["decrease"]),
                "at_grid_edge": edge,
                "n_candidates": len(cand),
                "n_seeds": int(best["n_seeds"]),
                "epoch_requested": epoch,
                "epoch_used": int(best["epoch_used"]),
                "grid_min": grid[0],
                "grid_max": grid[-1],
            }
        )
    return pd.DataFrame(out, columns=OUTPUT_COLUMNS)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Select step sizes by training-loss decrease.")
    p.add_argument("--status", nargs="+", required=True, help="the runs' status.json files")
    p.add_argument("--epoch", type=int, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    chosen = select_step_sizes(read_runs(a.status), a.epoch)
    write_table(chosen, a.out)
    log.info("selected step sizes:\n%s", chosen.to_string(index=False))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
