"""Which rows of an estimates table were made with which probe option.

The smoothness stage estimates R_hat with the headline probe option (``raw``: the paper's
probe lengths, the chosen step sizes) and, along the same trajectories, with each option of
``cifar.smoothness.robustness_probe_steps`` (``signgeom.estimate.estimate_settings``). One
table (``smoothness.csv``) holds them all, told apart by its ``probe_step`` column, so the same
(model, optimizer, seed, epoch) appears once per option. A reader that means the paper's
estimator takes :func:`headline_rows`; the claims engine evaluates each option on
:func:`probe_rows`.

A row without a ``probe_step`` (a table written before the column existed) is ``raw``.
"""

from __future__ import annotations

import pandas as pd

from signgeom.probes import HEADLINE_PROBE_STEP, PROBE_STEPS

HEADLINE = HEADLINE_PROBE_STEP
ROBUSTNESS = tuple(o for o in PROBE_STEPS if o != HEADLINE)
# One estimate: a trajectory's snapshot (plus ``lr`` where a table holds it: two runs of one
# optimizer).
ESTIMATE_KEY = ("model", "optimizer", "seed", "epoch")


def labelled(table: pd.DataFrame) -> pd.Series:
    """Boolean mask: the row names its probe option (a non-empty ``probe_step``)."""
    if "probe_step" not in table.columns:
        return pd.Series(False, index=table.index)
    made = table["probe_step"]
    return made.notna() & (made.astype(str).str.strip() != "")


def row_options(table: pd.DataFrame) -> pd.Series:
    """The probe option of each row: its ``probe_step``, :data:`HEADLINE` where it names
    none."""
    if "probe_step" not in table.columns:
        return pd.Series(HEADLINE, index=table.index, dtype=object)
    return table["probe_step"].where(labelled(table), HEADLINE).astype(str).str.strip()


def probe_rows(table: pd.DataFrame, option: str, column: str) -> pd.DataFrame:
    """The rows of ``table`` made with probe option ``option``, plus the rows that name no
    option and hold no ``column`` estimate (rows of another kind, e.g. a loss, which count
    under every option). A row naming another option never counts, even without an estimate:
    a failed heavy_ball estimate must not exclude a seed from the raw verdicts."""
    no_estimate = table[column].isna() if column in table.columns else True
    return table[(row_options(table) == option) | (~labelled(table) & no_estimate)]


def headline_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the paper's estimator: those of :data:`HEADLINE`, or every row of a table
    made with one option only (a config whose ``probe_step`` is not ``raw``, which then lists
    no robustness option). A table holding several options but no ``raw`` row is a
    ``ValueError``, and so is an estimate listed twice (:func:`once_per_estimate`)."""
    options = row_options(table)
    present = set(options)
    if len(present) <= 1:
        return once_per_estimate(table)
    if HEADLINE not in present:
        raise ValueError(
            f"estimates of probe options {sorted(present)} and none of the headline "
            f"{HEADLINE!r}: which rows are the paper's estimator is not defined"
        )
    return once_per_estimate(table[options == HEADLINE])


def once_per_estimate(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows``, checked to hold each estimate (:data:`ESTIMATE_KEY`, and ``lr`` where there
    is one) once: a ``ValueError`` names those listed twice (rows of two options mixed, which
    an average over rows would count twice). A table without every key column is not
    checked."""
    if not set(ESTIMATE_KEY) <= set(rows.columns):
        return rows
    key = [*ESTIMATE_KEY, *(["lr"] if "lr" in rows.columns else [])]
    twice = rows.duplicated(key, keep=False)
    if twice.any():
        listed = rows.loc[twice, key].drop_duplicates().values.tolist()
        raise ValueError(f"estimates listed twice ({', '.join(key)}): {listed[:5]}")
    return rows
