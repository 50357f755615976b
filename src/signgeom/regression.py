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
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from signgeom.io import read_table
from signgeom.workflow import QUICK_PRESET, REPO, snakemake_command

REFERENCE_DIR = REPO / "tests" / "regression"


@dataclass(frozen=True)
class Tol:
    """``|actual - expected| <= abs + rel * |expected|``; ``Tol()`` is an exact comparison."""

    rel: float = 0.0
    abs: float = 0.0

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
    tolerances: Mapping[str, Tol] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()  # wall-clock columns: never compared, not stored


# Tolerances. Non-numeric columns (status, aggregate, booleans) are always compared exactly.
#
# Figure 2 (float64 NumPy): grid coordinates, counts and the chosen aggregation are exact by
# construction. The constants come from eigendecompositions and an enumeration of sign vectors
# through BLAS matrix products: bit-identical on one machine, but another CPU or BLAS build sums
# in another order, a few ulp (rel. 1e-12) at most; 1e-9 leaves room. The distances after
# T = 100 GD/signGD steps accumulate such rounding over the steps, and signGD takes the sign of
# gradient components that approach 0, so a flipped sign in one of the 1000 runs of a cell moves
# the cell mean by far more than an ulp: rel. 1e-6 (a real change of the method moves them by
# whole percents).
QUADRATIC_SUMMARY = TableSpec(
    output="results/quadratic/summary.csv",
    reference="quadratic_summary.csv",
    keys=("theta_index", "ratio_index"),
    default=Tol(rel=1e-9),
    tolerances={
        "theta": EXACT,
        "lambda_ratio": EXACT,
        "rotations": EXACT,
        "n_runs": EXACT,
        "gd_exact_fraction": EXACT,
        "dist_gd_mean": Tol(rel=1e-6),
        "dist_sign_mean": Tol(rel=1e-6),
        "dist_ratio": Tol(rel=1e-6),
    },
)

# Figure 3 (PyTorch on CPU, one thread per job in the quick preset). A run is bit-identical on
# one machine and torch build, but convolution and matmul kernels (oneDNN/MKL) pick a reduction
# order by CPU features (AVX2 vs AVX-512) and thread count, a rel. 1e-7 per float32 operation that
# a few epochs of training amplify (signSGD flips the sign of near-zero gradient entries). Losses
# get rel. 1e-3, accuracies (fractions of 500/1000 images) abs. 0.01 (5 images). The chosen step
# sizes are grid values and the run status is discrete: exact. The smoothness estimates are
# finite differences of gradients (cancellation amplifies rounding) along those trajectories:
# rel. 1e-3; the dimension d is exact. Wall-clock columns are ignored.
TRAINING = Tol(rel=1e-3)
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
)
CIFAR_METRICS = TableSpec(
    output="results/cifar/metrics.csv",
    reference="cifar_metrics.csv",
    keys=("model", "optimizer", "lr", "seed", "epoch"),
    default=TRAINING,
    tolerances={"train_acc": Tol(abs=0.01), "test_acc": Tol(abs=0.01)},
    ignore=("epoch_seconds",),
)
CIFAR_SMOOTHNESS = TableSpec(
    output="results/cifar/smoothness.csv",
    reference="cifar_smoothness.csv",
    keys=("model", "optimizer", "epoch"),
    default=TRAINING,
    tolerances={
        "lr": EXACT,
        "seed": EXACT,
        "d": EXACT,
        "n_examples": EXACT,
        # the gammas that attain the reduction, and the step sizes derived from the selection
        "gamma_L2": EXACT,
        "gamma_Linf": EXACT,
        "alpha_gd": EXACT,
        "alpha_sign": EXACT,
    },
    ignore=("seconds",),
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
    for col in actual.columns:
        if col not in expected and col not in spec.ignore:
            out.append(Difference(f"{name} column {col}: not in the reference (new column)", col))
    columns = [c for c in columns if c in actual]

    exp_keys = [tuple(r) for r in expected[keys].itertuples(index=False)]
    act_index = {tuple(r): i for i, r in enumerate(actual[keys].itertuples(index=False))}
    matched = set()
    for row, key in enumerate(exp_keys):
        where = f"{name} row {row} ({row_label(keys, key)})"
        if key not in act_index:
            out.append(Difference(f"{where}: missing from the output"))
            continue
        j = act_index[key]
        matched.add(j)
        for col in columns:
            e, a = expected[col].iloc[row], actual[col].iloc[j]
            tol = spec.tolerances.get(col, spec.default)
            if is_numeric(expected[col]) and is_numeric(actual[col]):
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


def reference_table(table: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """What is stored as the reference: the table without its wall-clock columns."""
    return table.drop(columns=[c for c in spec.ignore if c in table])


def check_workdir(
    workdir: str | Path,
    references: str | Path = REFERENCE_DIR,
    tables: Sequence[TableSpec] = TABLES,
) -> list[str]:
    """Messages of every number of ``workdir``'s outputs that moved beyond its tolerance."""
    messages = []
    for spec in tables:
        expected = read_table(Path(references) / spec.reference)
        actual = read_table(Path(workdir) / spec.output)
        messages += [d.message for d in compare(expected, actual, spec) if d.beyond_tolerance]
    return messages


def run_quick_preset(workdir: Path, cores: int) -> None:
    """Run ``presets/quick.yaml`` of this repository into ``workdir`` (as the tests do)."""
    cmd = snakemake_command(workdir, "--configfile", QUICK_PRESET, "--cores", str(cores))
    print("running:", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, env={**os.environ, "PYTHONHASHSEED": "0"})
    if done.returncode != 0:
        raise SystemExit(f"the quick preset failed (exit {done.returncode}); see the log above")


def refresh(
    workdir: str | Path,
    references: str | Path = REFERENCE_DIR,
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
        new.to_csv(path, index=False, float_format="%.17g")
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
    parser.add_argument("--references", type=Path, default=REFERENCE_DIR)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="signgeom-quick-") as tmp:
        workdir = args.workdir
        if workdir is None:
            workdir = Path(tmp)
            run_quick_preset(workdir, args.cores)
        if args.command == "refresh":
            refresh(workdir, args.references)
            print("review with `git diff tests/regression/` and commit the references")
            return 0
        try:
            messages = check_workdir(workdir, args.references)
        except ValueError as err:  # a missing or unreadable table, named
            print(f"error: {err}", file=sys.stderr)
            return 2
        for message in messages:
            print(message)
        print(
            f"{len(messages)} number(s) moved beyond tolerance" if messages else "all numbers match"
        )
        return 1 if messages else 0


if __name__ == "__main__":
    raise SystemExit(main())
