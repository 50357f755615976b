"""The claims engine: claims declared as data, one verdict rule, one table format.

A :class:`Claim` names a model, a statement, a statistic (its text and a function from the
input tables to one positive ratio per seed), a direction (``above`` or ``below`` a
threshold, ``similar``: inside the band ``[1/f, f]``) and the minimum number of seeds for a
verdict. An :class:`Agreement` is a claim about two others: whether their verdicts agree.

Seeds. A seed is *excluded* from every claim of its model when the claim set's screen names it
(a diverged run, a non-finite loss, a non-finite or non-positive estimate, a missing
trajectory) or when any claim's per-seed value is not finite and positive (ratios are compared
in logs; NaN counts). So the verdicts of one model rest on the same seeds, and the ``note``
names each excluded seed with its reason. A claim whose statistic is undefined on a seed (its
window holds no estimate) has no value there: that seed stays in the other claims, and the
claim's note says so.

Statistic over the ``n`` usable seeds: the geometric mean of the per-seed ratios ``q_s`` with
the t-interval of ``log q_s`` at ``level`` (:func:`signgeom.stats.geometric_t_interval`).

Verdict rule:

- ``n < min_seeds``: ``inconclusive`` ("1 seed (min 3): no verdict"), value the point value;
- a non-finite interval: ``inconclusive``;
- ``above`` holds when ``lo > threshold`` and fails when ``hi < threshold``; ``below`` mirrors
  it; ``similar`` holds when ``[lo, hi]`` lies inside the band and fails when it lies outside;
  otherwise ``inconclusive``.

Probe options. Claims on estimates (``Claim.estimates``) are evaluated once per probe option
on the rows of the estimates table made with it (:func:`signgeom.analysis.probe_options.
probe_rows`: column ``probe_step``; a row naming no option is ``raw``, or, holding no estimate,
counts under every option; a row naming another option never counts). ``raw``, the paper's,
gives the headline columns; the others (:data:`ROBUSTNESS`) give ``verdict_<option>``,
``value_<option>`` and ``n_seeds_<option>`` (the usable seeds under that option, which may be
fewer than the headline's): ``no data`` where the table has no estimate under that option,
``n/a`` for a claim on no estimate (both with 0 seeds).

Grid edges. ``grid_edge`` lists, for each step-size selection a claim rests on
(``Claim.selections``), the selections of the step-size table that sit at their grid's edge.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from signgeom.analysis.probe_options import (
    HEADLINE,
    ROBUSTNESS,
    once_per_estimate,
    probe_rows,
)
from signgeom.io import read_table, write_table
from signgeom.stats import geometric_t_interval

Direction = Literal["above", "below", "similar"]
Tables = Mapping[str, pd.DataFrame]
Screen = Callable[[Tables, str], Mapping[int, str]]
VERDICTS = ("holds", "fails", "inconclusive")
NO_DATA = "no data"
NOT_AN_ESTIMATE = "n/a"
COLUMNS = [
    *("claim", "model", "statement", "statistic", "direction", "threshold"),
    *("value", "lo", "hi", "level", "n_seeds", "min_seeds", "per_seed", "excluded"),
    *("grid_edge", "verdict", "note"),
    *(f"{kind}_{option}" for option in ROBUSTNESS for kind in ("verdict", "value", "n_seeds")),
]


@dataclass(frozen=True)
class Claim:
    """One claim: ``per_seed(tables)`` gives one ratio per seed (index: seed)."""

    name: str
    model: str
    statement: str
    statistic: str
    direction: Direction
    per_seed: Callable[[Tables], pd.Series]
    min_seeds: int
    threshold: float = 1.0
    band: float | None = None
    selections: tuple[str, ...] = ()
    estimates: bool = False

    def shown_threshold(self) -> str:
        if self.direction == "similar":
            if self.band is None:
                raise ValueError(f"claim {self.name}: a 'similar' claim needs a band")
            return f"[{1 / self.band:.3g}, {self.band:.3g}]"
        return f"{self.threshold:g}"


@dataclass(frozen=True)
class Agreement:
    """A claim that two claims' verdicts agree: holds when both hold or both fail, fails when
    one holds and the other fails, else inconclusive."""

    name: str
    model: str
    statement: str
    first: str
    second: str


def verdict(
    direction: str, lo: float, hi: float, threshold: float = 1.0, band: float | None = None
) -> str:
    """``holds | fails | inconclusive`` of an interval ``[lo, hi]`` (module docstring); a
    non-finite bound gives ``inconclusive``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    if direction == "above":
        return "holds" if lo > threshold else "fails" if hi < threshold else "inconclusive"
    if direction == "below":
        return "holds" if hi < threshold else "fails" if lo > threshold else "inconclusive"
    if direction == "similar":
        if band is None:
            raise ValueError("a 'similar' verdict needs a band")
        if 1 / band <= lo and hi <= band:
            return "holds"
        return "fails" if hi < 1 / band or lo > band else "inconclusive"
    raise ValueError(f"direction must be above, below or similar, got {direction!r}")


def agreement(first: str, second: str) -> str:
    """The :class:`Agreement` rule on two verdicts."""
    pair = {first, second}
    if pair <= {"holds", "fails"}:
        return "holds" if len(pair) == 1 else "fails"
    return "inconclusive"


def _seeds_word(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _usable(x: float) -> bool:
    return math.isfinite(x) and x > 0


def exclusions(
    claims: Sequence[Claim], values: Mapping[str, pd.Series], screened: Mapping[int, str]
) -> dict[int, str]:
    """Seed -> reason for one model's claims (module docstring): the screen's reasons, then a
    per-seed value that is not finite and positive (NaN included). A seed a claim has no value
    for (its window holds no estimate) leaves that claim only (:func:`evaluate` names it)."""
    out = {int(s): r for s, r in screened.items()}
    seeds = sorted({int(s) for c in claims for s in values[c.name].index} - set(out))
    for seed in seeds:
        for c in claims:
            series = values[c.name]
            if seed in series.index and not _usable(float(series[seed])):
                out[seed] = f"{c.name} = {float(series[seed]):.4g}"
                break
    return out


def _note(
    excluded: Mapping[int, str], missing: Sequence[int], n: int, min_seeds: int, lo: float,
    hi: float,
) -> str:  # fmt: skip
    parts = [f"seed {s} excluded: {r}" for s, r in sorted(excluded.items())]
    if missing:
        parts.append(f"no value of this statistic on seed {' '.join(map(str, missing))}")
    if n == 0:
        parts.append("no usable seed: no verdict")
    elif n < min_seeds:
        parts.append(f"{_seeds_word(n)} (min {min_seeds}): no verdict")
    elif not (math.isfinite(lo) and math.isfinite(hi)):
        parts.append("no finite interval: no verdict")
    return "; ".join(parts)


def evaluate(
    claim: Claim,
    per_seed: pd.Series,
    excluded: Mapping[int, str],
    level: float,
    seeds: Sequence[int] = (),
) -> dict:
    """The value, interval, seeds and verdict of ``claim`` on the per-seed ratios less the
    excluded seeds (``seeds``: the model's seeds, to name those the claim has no value for)."""
    missing = sorted(set(seeds) - set(per_seed.index) - set(excluded))
    per_seed = per_seed[~per_seed.index.isin(list(excluded))].sort_index().astype(float)
    if len(per_seed):
        value, lo, hi, n = geometric_t_interval(per_seed.to_numpy(), level)
    else:
        value, lo, hi, n = math.nan, math.nan, math.nan, 0
    band = claim.band if claim.direction == "similar" else None
    decided = n >= claim.min_seeds and n > 0
    return {
        "value": value,
        "lo": lo,
        "hi": hi,
        "n_seeds": n,
        "per_seed": " ".join(f"{int(s)}:{v:.4g}" for s, v in per_seed.items()),
        "excluded": " ".join(str(s) for s in sorted(excluded)),
        "verdict": verdict(claim.direction, lo, hi, claim.threshold, band)
        if decided
        else "inconclusive",
        "note": _note(excluded, missing, n, claim.min_seeds, lo, hi),
    }


def has_estimates(table: pd.DataFrame, model: str, option: str, column: str) -> bool:
    """Whether ``table`` holds a ``column`` estimate of ``model`` made under ``option``."""
    rows = probe_rows(table, option, column)
    rows = rows[rows["model"] == model]
    return bool(rows[column].notna().any()) if column in rows else False


def grid_edges(step_sizes: pd.DataFrame, model: str, selections: Sequence[str]) -> str:
    """The selections of ``model`` among ``selections`` at their grid's edge, e.g.
    ``signsgd lr 0.0001 (grid 0.0001-0.00316)``; a selection missing from the table is an
    error naming it."""
    rows = step_sizes[step_sizes["model"] == model].drop_duplicates(["optimizer", "lr"])
    out = []
    for opt in selections:
        picked = rows[rows["optimizer"] == opt]
        if picked.empty:
            raise ValueError(f"step-size table: no selection of {model} {opt}")
        for r in picked[picked["at_grid_edge"].astype(str).str.lower() == "true"].itertuples():
            out.append(f"{opt} lr {r.lr:g} (grid {r.grid_min:g}-{r.grid_max:g})")
    return "; ".join(out)


@dataclass(frozen=True)
class ClaimSet:
    """A claim set: its claims and agreements per model (``declare(tables, model)``), the
    screen naming each model's excluded seeds, the key of the tables that holds estimates and
    the column whose presence says a model has estimates under a probe option."""

    declare: Callable[[Tables, str], Sequence[Claim | Agreement]]
    screen: Screen
    estimates_table: str
    estimate_column: str = "R_hat"


def _per_seed_values(claims: Sequence[Claim], tables: Tables) -> dict[str, pd.Series]:
    out = {}
    for c in claims:
        series = c.per_seed(tables)
        out[c.name] = pd.Series(series, dtype=float).rename(index=int)
    return out


def _evaluate_model(
    claims: Sequence[Claim], tables: Tables, claim_set: ClaimSet, model: str, level: float
) -> dict[str, dict]:
    values = _per_seed_values(claims, tables)
    excluded = exclusions(claims, values, claim_set.screen(tables, model))
    seeds = sorted({int(s) for v in values.values() for s in v.index} | set(excluded))
    return {c.name: evaluate(c, values[c.name], excluded, level, seeds) for c in claims}


def _with_option(tables: Tables, claim_set: ClaimSet, option: str) -> dict[str, pd.DataFrame]:
    key = claim_set.estimates_table
    rows = probe_rows(tables[key], option, claim_set.estimate_column)
    return {**tables, key: once_per_estimate(rows)}


def claims_table(
    claim_set: ClaimSet,
    tables: Tables,
    models: Sequence[str],
    step_sizes: pd.DataFrame,
    level: float,
) -> pd.DataFrame:
    """One row per claim of every model (``COLUMNS``); a set with no claim is an error."""
    rows: list[dict] = []
    key = claim_set.estimates_table
    headline = _with_option(tables, claim_set, HEADLINE)
    for model in models:
        declared = list(claim_set.declare(headline, model))
        claims = [c for c in declared if isinstance(c, Claim)]
        results = _evaluate_model(claims, headline, claim_set, model, level)
        robust = {}
        for option in ROBUSTNESS:
            if has_estimates(tables[key], model, option, claim_set.estimate_column):
                robust[option] = _evaluate_model(
                    claims, _with_option(tables, claim_set, option), claim_set, model, level
                )
        for item in declared:
            if isinstance(item, Claim):
                rows.append(_claim_row(item, results[item.name], robust, step_sizes, level))
            else:
                rows.append(_agreement_row(item, rows, level))
    if not rows:
        raise ValueError(f"no claim for the models {list(models)}: the tables hold none of them")
    return pd.DataFrame(rows, columns=COLUMNS)


def _claim_row(
    claim: Claim,
    result: dict,
    robust: Mapping[str, Mapping[str, dict]],
    step_sizes: pd.DataFrame,
    level: float,
) -> dict:
    row = {
        "claim": claim.name,
        "model": claim.model,
        "statement": claim.statement,
        "statistic": claim.statistic,
        "direction": claim.direction,
        "threshold": claim.shown_threshold(),
        "level": level,
        "min_seeds": claim.min_seeds,
        "grid_edge": grid_edges(step_sizes, claim.model, claim.selections),
        **result,
    }
    for option in ROBUSTNESS:
        keys = (f"verdict_{option}", f"value_{option}", f"n_seeds_{option}")
        if not claim.estimates:
            row.update(zip(keys, (NOT_AN_ESTIMATE, math.nan, 0), strict=True))
        elif option not in robust:
            row.update(zip(keys, (NO_DATA, math.nan, 0), strict=True))
        else:
            other = robust[option][claim.name]
            row.update(zip(keys, (other["verdict"], other["value"], other["n_seeds"]), strict=True))
    return row


def _agreement_row(item: Agreement, rows: Sequence[dict], level: float) -> dict:
    by_name = {r["claim"]: r for r in rows}
    missing = [n for n in (item.first, item.second) if n not in by_name]
    if missing:
        raise ValueError(f"agreement {item.name}: claims {missing} are not declared before it")
    first, second = by_name[item.first], by_name[item.second]
    row = {k: "" for k in COLUMNS}
    row.update(
        claim=item.name,
        model=item.model,
        statement=item.statement,
        statistic="agreement of the two verdicts",
        direction="agree",
        threshold="same verdict",
        value=math.nan,
        lo=math.nan,
        hi=math.nan,
        level=level,
        n_seeds=min(first["n_seeds"], second["n_seeds"]),
        min_seeds=max(first["min_seeds"], second["min_seeds"]),
        excluded=first["excluded"] or second["excluded"],
        grid_edge="; ".join(x for x in {first["grid_edge"]: 0, second["grid_edge"]: 0} if x),
        verdict=agreement(first["verdict"], second["verdict"]),
        note=f"{item.first}: {first['verdict']}; {item.second}: {second['verdict']}",
    )
    for option in ROBUSTNESS:
        a, b = (
            r["verdict"] if r[f"verdict_{option}"] == NOT_AN_ESTIMATE else r[f"verdict_{option}"]
            for r in (first, second)
        )
        row[f"verdict_{option}"] = (
            agreement(a, b) if {a, b} <= set(VERDICTS) else NO_DATA
        )
        row[f"value_{option}"] = math.nan
        row[f"n_seeds_{option}"] = min(
            r["n_seeds"] if r[f"verdict_{option}"] == NOT_AN_ESTIMATE else r[f"n_seeds_{option}"]
            for r in (first, second)
        )
    return row


def read_input(path: Path | str, what: str) -> pd.DataFrame:
    """The table at ``path``; a missing, empty or header-only file is a ``ValueError`` naming
    it and ``what`` it should hold."""
    table = read_table(path)
    if table.empty:
        raise ValueError(f"{path}: no rows (header only?), expected the {what} table")
    return table


def read_inputs(paths: Sequence[Path | str], what: str) -> pd.DataFrame:
    """Several tables of one kind, concatenated (each checked by :func:`read_input`)."""
    return pd.concat([read_input(p, what) for p in paths], ignore_index=True)


def finite_positive(values: pd.Series) -> pd.Series:
    """Boolean mask: finite and > 0 (NaN: False)."""
    x = pd.to_numeric(values, errors="coerce").astype(float)
    return pd.Series(np.isfinite(x) & (x > 0), index=values.index)


def write_claims(table: pd.DataFrame, out: Path | str, log: logging.Logger) -> None:
    """Write a claims table to ``out`` and log each claim's value, interval, seeds and verdict."""
    write_table(table, out)
    for row in table.itertuples():
        log.info("%s (%s): %.4g [%.4g, %.4g] on %d seeds -> %s", row.claim, row.model,
                 row.value, row.lo, row.hi, row.n_seeds, row.verdict)  # fmt: skip
