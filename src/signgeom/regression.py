"""Regression check of the quick preset's numbers against committed references.

The references in ``tests/regression/`` are copies of the quick preset's result tables (minus
wall-clock columns). :func:`compare` matches rows by key columns and compares every other column
with a tolerance chosen per column (see :data:`TABLES`); each difference becomes one message
naming the file, the row, the column, the expected and the actual value, e.g.::

    results/cifar/smoothness.csv row 3 (model=cnn, optimizer=sgd, epoch=3) column R_hat:
    expected 0.4312, got 0.4411 (rel. diff 2.3e-02 > tol 1e-03)

``row N`` is the 0-based data row of the reference table (line N + 2 of its CSV file).

Commands (see tests/regression/README.md)::

    python -m signgeom.regression check   [--workdir DIR]   # compare, exit 1 on a difference
    python -m signgeom.regression refresh [--workdir DIR]   # rewrite the references, show diff

Without ``--workdir`` both run the quick preset into a temporary directory first.
"""

from __future__ import annotations

import argparse
import fnmatch
import math
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom import workflow
from signgeom.cli import run_cli
from signgeom.io import read_table, write_table


def reference_dir() -> Path:
    """The committed references: ``tests/regression/`` of the checkout
    (:func:`signgeom.workflow.checkout`; the references are not package data)."""
    return workflow.checkout() / "tests" / "regression"


@dataclass(frozen=True)
class Tol:
    """``|a - e| <= abs + rel * |e|`` for expected ``e`` and actual ``a``; with ``log=True`` the
    same on ``log10(e), log10(a)`` (positive values; ``abs`` only). ``Tol()`` is exact."""

    rel: float = 0.0
    abs: float = 0.0
    log: bool = False

    def __post_init__(self) -> None:
        if self.log and (self.rel or not self.abs):
            raise ValueError("a log10 tolerance is absolute: Tol(abs=..., log=True)")

    @property
    def exact(self) -> bool:
        return self.rel == 0 and self.abs == 0


EXACT = Tol()


@dataclass(frozen=True)
class TableSpec:
    """One output table: where it is, how its rows are identified, how its columns compare."""

    output: str  # path relative to the workflow's working directory
    reference: str  # file name in the reference directory
    keys: tuple[str, ...]  # columns that identify a row (compared exactly)
    default: Tol  # numeric columns not listed in ``tolerances``
    tolerances: Mapping[str, Tol] = field(default_factory=dict)  # name or fnmatch pattern
    ignore: tuple[str, ...] = ()  # wall-clock columns: never compared, not stored
    # Tighter tolerances for the rows at epoch 0 (the initial parameters, before training's
    # trajectories can drift apart): column name or pattern -> Tol.
    start_tolerances: Mapping[str, Tol] = field(default_factory=dict)

    def tolerance(self, column: str, epoch: object = None) -> Tol:
        """The column's tolerance: its own entry, else the first matching pattern (in order),
        else ``default``; at ``epoch == 0`` a ``start_tolerances`` entry comes first. New
        columns are thus covered by a pattern or the default."""
        if epoch == 0:
            for pattern, tol in self.start_tolerances.items():
                if fnmatch.fnmatchcase(column, pattern):
                    return tol
        if column in self.tolerances:
            return self.tolerances[column]
        for pattern, tol in self.tolerances.items():
            if fnmatch.fnmatchcase(column, pattern):
                return tol
        return self.default


# Tolerances, set from measurement: `python bench/regression_sensitivity.py` reruns the quick
# preset's stages under other BLAS/ATen/NumPy kernels, 2 threads and 2-ulp perturbed Hessians,
# and prints each column's largest difference from the references (tests/regression/README.md
# holds the measured numbers). Figure 2's tolerances are 100x the largest measured difference,
# rounded up to a power of ten; Figure 3's, on chaotic training trajectories, 3.5x or more (see
# below). Non-numeric columns (status, aggregate, booleans) are compared exactly;
# a column matched by no name or pattern gets the table's ``default``.
#
# Figure 2 (float64 NumPy): measurements in tests/regression/README.md.
SIGN_DISTANCE = Tol(abs=1e-4, log=True)  # signGD distances are chaotic: log10, 230x measured
QUADRATIC_SUMMARY = TableSpec(
    output="results/quadratic/summary.csv",
    reference="quadratic_summary.csv",
    keys=("theta_index", "ratio_index"),
    default=Tol(rel=1e-12),
    tolerances={
        "theta": EXACT,
        "lambda_ratio": EXACT,
        "rotations": EXACT,
        "n_runs": EXACT,
        "gd_exact_fraction": EXACT,
        "dist_gd*": Tol(rel=1e-11),
        "dist_sign*": SIGN_DISTANCE,
        "dist_ratio*": SIGN_DISTANCE,
    },
)

# Figure 3: chaotic training trajectories; measurements in tests/regression/README.md.
TRAINING = Tol(rel=5e-2)  # 4.4x the largest measured drift (1.15e-2, aten-default, ResNet20)
AT_START = {"train_loss": Tol(rel=1e-6)}  # epoch 0: 38x the measured 2.6e-8 (kernels only)
ESTIMATE = Tol(abs=0.5, log=True)  # log10: 3.6x the measured 0.14 decades after epoch 0
ESTIMATE_AT_START = Tol(abs=5e-3, log=True)  # epoch 0: 15x the measured 3.3e-4 decades
EVAL_MODE = ("train_loss_eval", "train_acc", "test_acc", "test_loss")
CIFAR_STEP_SIZES = TableSpec(
    output="results/cifar/step_sizes.csv",
    reference="cifar_step_sizes.csv",
    keys=("model", "optimizer"),
    default=TRAINING,
    tolerances={
        "lr": EXACT,
        "n_candidates": EXACT,
        "n_seeds": EXACT,
        "epoch_requested": EXACT,
        "epoch_used": EXACT,
        "grid_min": EXACT,
        "grid_max": EXACT,
    },
    ignore=("final_test_acc",),  # an eval-mode quantity: see above
)
CIFAR_METRICS = TableSpec(
    output="results/cifar/metrics.csv",
    reference="cifar_metrics.csv",
    keys=("model", "optimizer", "lr", "seed", "epoch"),
    default=TRAINING,
    start_tolerances=AT_START,
    ignore=("epoch_seconds", *EVAL_MODE),
)
CIFAR_SMOOTHNESS = TableSpec(
    output="results/cifar/smoothness.csv",
    reference="cifar_smoothness.csv",
    keys=("model", "optimizer", "seed", "epoch", "probe_step"),  # one row per probe option
    default=TRAINING,
    tolerances={
        "lr": EXACT,
        "seed": EXACT,
        "d": EXACT,
        "n_examples": EXACT,
        "alpha_gd": EXACT,
        "alpha_sign": EXACT,
        "phi": ESTIMATE,
        "*_hat": ESTIMATE,
        "grad_norm*": ESTIMATE,
    },
    start_tolerances={
        "phi": ESTIMATE_AT_START,
        "*_hat": ESTIMATE_AT_START,
        "grad_norm*": ESTIMATE_AT_START,
    },
    # the gammas attaining the min: discrete picks between close quotients, which flip when
    # the trajectory drifts (measured); the estimates themselves are compared
    ignore=("seconds", "gamma_L2", "gamma_Linf"),
)
TABLES = (QUADRATIC_SUMMARY, CIFAR_STEP_SIZES, CIFAR_METRICS, CIFAR_SMOOTHNESS)


@dataclass(frozen=True)
class Difference:
    """One moved number (or a missing/extra row or column) with its message."""

    message: str
    column: str | None = None
    rel: float | None = None  # relative difference of a numeric cell, if any
    beyond_tolerance: bool = True


def fmt(value) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.10g}"
    return str(value)


def rel_diff(expected: float, actual: float) -> float:
    if expected == actual:
        return 0.0
    scale = abs(expected)
    return abs(actual - expected) / scale if scale > 0 else math.inf


def numeric_difference(expected: float, actual: float, tol: Tol) -> tuple[bool, str, float]:
    """(within tolerance, explanation, relative difference) of two numbers; NaN equals NaN."""
    if (math.isnan(expected) and math.isnan(actual)) or expected == actual:
        return True, "", 0.0
    rel = rel_diff(expected, actual)
    if math.isnan(expected) or math.isnan(actual) or math.isinf(expected) or math.isinf(actual):
        return False, "(exact match required for NaN/inf)", rel
    if tol.exact:
        return False, f"(diff {abs(actual - expected):.1e}, exact match required)", rel
    if tol.log:
        if expected <= 0 or actual <= 0:
            return False, "(log10 comparison needs positive values)", rel
        diff = abs(math.log10(actual) - math.log10(expected))
        if diff <= tol.abs:
            return True, "", rel
        return False, f"(log10 diff {diff:.1e} > tol {tol.abs:.0e})", rel
    diff = abs(actual - expected)
    bound = tol.abs + tol.rel * abs(expected)
    if diff <= bound:
        return True, "", rel
    if tol.rel and not tol.abs:
        return False, f"(rel. diff {rel:.1e} > tol {tol.rel:.0e})", rel
    if tol.abs and not tol.rel:
        return False, f"(abs. diff {diff:.1e} > tol {tol.abs:.0e})", rel
    return False, f"(diff {diff:.1e} > tol {tol.abs:.0e} + {tol.rel:.0e} * |expected|)", rel


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def row_label(keys: Sequence[str], values: Sequence) -> str:
    return ", ".join(f"{k}={fmt(v)}" for k, v in zip(keys, values, strict=True))


def compare(
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    spec: TableSpec,
    name: str | None = None,
    report_all: bool = False,
) -> list[Difference]:
    """Differences of ``actual`` from ``expected`` (the reference), one per moved number.

    With ``report_all`` numbers that moved within their tolerance are listed too (flagged
    ``beyond_tolerance=False``), for the diff summary of a refresh.
    """
    name = name or spec.output
    keys = list(spec.keys)
    out: list[Difference] = []
    for label, table in (("reference", expected), ("output", actual)):
        missing = [k for k in keys if k not in table]
        if missing:
            return [Difference(f"{name}: key columns {missing} missing from the {label}")]
        dup = table.duplicated(keys)
        if dup.any():
            where = row_label(keys, table.loc[dup, keys].iloc[0])
            return [Difference(f"{name}: {label} has duplicate rows ({where})")]
    columns = [c for c in expected.columns if c not in keys and c not in spec.ignore]
    for col in columns:
        if col not in actual:
            out.append(Difference(f"{name} column {col}: missing from the output", col))
    for col in actual.columns:  # new: nothing to compare with until the references refresh
        if col not in expected and col not in spec.ignore:
            message = f"{name} column {col}: not in the reference (new column, not compared)"
            out.append(Difference(message, col, beyond_tolerance=False))
    columns = [c for c in columns if c in actual]

    exp_keys = [tuple(r) for r in expected[keys].itertuples(index=False)]
    act_index = {tuple(r): i for i, r in enumerate(actual[keys].itertuples(index=False))}
    matched = set()
    exp_values = {c: expected[c].to_numpy() for c in columns}
    act_values = {c: actual[c].to_numpy() for c in columns}
    numeric = {c: is_numeric(expected[c]) and is_numeric(actual[c]) for c in columns}
    for row, key in enumerate(exp_keys):
        where = f"{name} row {row} ({row_label(keys, key)})"
        if key not in act_index:
            out.append(Difference(f"{where}: missing from the output"))
            continue
        j = act_index[key]
        matched.add(j)
        for col in columns:
            e, a = exp_values[col][row], act_values[col][j]
            epoch = expected["epoch"].iat[row] if "epoch" in keys else None
            tol = spec.tolerance(col, epoch)
            if numeric[col]:
                ok, why, rel = numeric_difference(float(e), float(a), tol)
                moved = not (ok and why == "" and rel == 0.0)
                if ok and not (report_all and moved):
                    continue
                why = why or f"(rel. diff {rel:.1e}, within tolerance)"
                out.append(
                    Difference(
                        f"{where} column {col}: expected {fmt(e)}, got {fmt(a)} {why}",
                        col,
                        rel,
                        beyond_tolerance=not ok,
                    )
                )
            elif e != a and not (pd.isna(e) and pd.isna(a)):
                out.append(
                    Difference(f"{where} column {col}: expected {fmt(e)}, got {fmt(a)}", col)
                )
    for j, key in enumerate(actual[keys].itertuples(index=False)):
        if j not in matched:
            label = row_label(keys, tuple(key))
            out.append(Difference(f"{name}: output row {j} ({label}) not in the reference (extra)"))
    return out


def tol_label(tol: Tol) -> str:
    if tol.exact:
        return "exact"
    if tol.log:
        return f"log10 abs {tol.abs:.0e}"
    return " + ".join(
        part for part, v in ((f"abs {tol.abs:.0e}", tol.abs), (f"rel {tol.rel:.0e}", tol.rel)) if v
    )


def column_spread(expected: pd.DataFrame, actual: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Per numeric column, how far ``actual`` moved from ``expected`` (rows matched by key).

    ``max_abs``/``max_rel``: largest absolute/relative difference of finite values;
    ``max_log10``: largest ``|log10 a - log10 e|`` where both are positive; ``max_diff``: the
    largest difference in the scale the column's tolerance compares (log10 or linear);
    ``tol_used``: the largest ``diff / (abs + rel |e|)`` (1 = at the tolerance). Values that are
    equal (including inf = inf, NaN = NaN) count as 0; unequal non-finite values as inf. Rows
    under a ``start_tolerances`` entry (epoch 0) get a row of their own, ``column (epoch 0)``.
    """
    keys = list(spec.keys)
    both = expected.merge(actual, on=keys, suffixes=("_e", "_a"))
    epochs = both["epoch"].to_numpy() if "epoch" in keys else np.full(len(both), None)
    rows = []
    for col in expected.columns:
        if col in keys or col in spec.ignore or col not in actual:
            continue
        if not (is_numeric(expected[col]) and is_numeric(actual[col])):
            continue
        row_tols = [spec.tolerance(col, epoch) for epoch in epochs]
        for tol in dict.fromkeys(row_tols) or [spec.tolerance(col)]:
            select = np.array([t == tol for t in row_tols], dtype=bool)
            label = col if tol == spec.tolerance(col) else f"{col} (epoch 0)"
            rows.append(_spread(both[select], keys, col, label, tol))
    return pd.DataFrame(rows)


def _spread(both: pd.DataFrame, keys: list[str], col: str, label: str, tol: Tol) -> dict:
    """One ``column_spread`` row: the differences of ``col`` over the rows of ``both``."""
    e = both[f"{col}_e"].to_numpy(float)
    a = both[f"{col}_a"].to_numpy(float)
    same = (e == a) | (np.isnan(e) & np.isnan(a))
    finite = np.isfinite(e) & np.isfinite(a)
    broken = ~same & ~finite
    with np.errstate(divide="ignore", invalid="ignore"):
        diff_abs = np.where(same, 0.0, np.where(finite, np.abs(a - e), np.inf))
        diff_rel = np.where(same, 0.0, diff_abs / np.abs(e))
        positive = finite & (e > 0) & (a > 0)
        diff_log = np.where(
            same, 0.0, np.where(positive, np.abs(np.log10(a) - np.log10(e)), np.inf)
        )
        diff = diff_log if tol.log else diff_abs
        bound = tol.abs if tol.log else tol.abs + tol.rel * np.abs(e)
        used = np.where(same, 0.0, diff / bound)
    used = np.where(broken, np.inf, used)
    worst = int(np.argmax(used)) if len(used) else 0
    return {
        "column": label,
        "tolerance": tol_label(tol),
        "max_abs": float(np.max(diff_abs, initial=0.0)),
        "max_rel": float(np.max(diff_rel, initial=0.0)),
        "max_log10": float(np.max(diff_log, initial=0.0)),
        "max_diff": float(np.max(diff, initial=0.0)),
        "tol_used": float(np.max(used, initial=0.0)),
        "worst_row": row_label(keys, both[keys].iloc[worst]) if len(used) else "",
    }


def reference_table(table: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """What is stored as the reference: the table without its wall-clock columns."""
    return table.drop(columns=[c for c in spec.ignore if c in table])


def check_workdir(
    workdir: str | Path,
    references: str | Path,
    tables: Sequence[TableSpec] = TABLES,
    notes: list[str] | None = None,
) -> list[str]:
    """Messages of every number of ``workdir``'s outputs that moved beyond its tolerance.

    Output columns that the references lack do not fail; they are appended to ``notes``."""
    messages = []
    for spec in tables:
        expected = read_table(Path(references) / spec.reference)
        actual = read_table(Path(workdir) / spec.output)
        for d in compare(expected, actual, spec):
            if d.beyond_tolerance:
                messages.append(d.message)
            elif notes is not None:
                notes.append(d.message)
    return messages


def run_quick_preset(workdir: Path, cores: int) -> None:
    """Run the checkout's ``presets/quick.yaml`` into ``workdir`` (as the tests do)."""
    preset = workflow.QUICK_PRESET
    cmd = workflow.snakemake_command(workdir, "--configfile", preset, "--cores", str(cores))
    print("running:", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, env={**os.environ, "PYTHONHASHSEED": "0"})
    if done.returncode != 0:
        raise SystemExit(f"the quick preset failed (exit {done.returncode}); see the log above")


def refresh(
    workdir: str | Path,
    references: str | Path,
    tables: Sequence[TableSpec] = TABLES,
    max_lines: int = 20,
) -> int:
    """Rewrite the references from ``workdir``'s outputs; print what changed. Returns #changed."""
    references = Path(references)
    references.mkdir(parents=True, exist_ok=True)
    changed = 0
    for spec in tables:
        new = reference_table(read_table(Path(workdir) / spec.output), spec)
        path = references / spec.reference
        if path.exists():
            diffs = compare(read_table(path), new, spec, name=spec.reference, report_all=True)
            beyond = sum(d.beyond_tolerance for d in diffs)
            print(
                f"{spec.reference}: {len(diffs)} difference(s), {beyond} beyond tolerance"
                f" ({len(new)} rows)"
            )
            numeric = [d for d in diffs if d.rel is not None]
            other = [d for d in diffs if d.rel is None]
            shown = other + sorted(numeric, key=lambda d: -d.rel)
            for d in shown[:max_lines]:
                print(f"  {'!' if d.beyond_tolerance else ' '} {d.message}")
            if len(shown) > max_lines:
                print(f"    ... and {len(shown) - max_lines} more")
            if numeric:
                worst: dict[str, float] = {}
                for d in numeric:
                    worst[d.column] = max(worst.get(d.column, 0.0), d.rel)
                summary = ", ".join(f"{c} {r:.1e}" for c, r in sorted(worst.items()))
                print(f"    largest rel. change per column: {summary}")
            changed += bool(diffs)
        else:
            print(f"{spec.reference}: new reference ({len(new)} rows)")
            changed += 1
        write_table(new, path)
    print(f"wrote {len(tables)} reference tables to {references}; {changed} changed")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("check", "refresh"))
    parser.add_argument(
        "--workdir",
        type=Path,
        help="a finished quick-preset run (default: run the quick preset into a temp dir)",
    )
    parser.add_argument(
        "--references", type=Path, help="reference directory (default: the checkout's)"
    )
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args(argv)
    references = args.references or reference_dir()
    with tempfile.TemporaryDirectory(prefix="signgeom-quick-") as tmp:
        workdir = args.workdir
        if workdir is None:
            workdir = Path(tmp)
            run_quick_preset(workdir, args.cores)
        if args.command == "refresh":
            refresh(workdir, references)
            print("review with `git diff tests/regression/` and commit the references")
            return 0
        notes: list[str] = []
        messages = check_workdir(workdir, references, notes=notes)  # ValueError: exit 2
        for message in notes + messages:
            print(message)
        print(
            f"{len(messages)} number(s) moved beyond tolerance" if messages else "all numbers match"
        )
        return 1 if messages else 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
