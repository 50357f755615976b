"""The regression comparison (signgeom.regression) on hand-made tables."""

import pandas as pd
import pytest

from signgeom.regression import (
    EXACT,
    TABLES,
    TableSpec,
    Tol,
    check_workdir,
    compare,
    numeric_difference,
    refresh,
)

SPEC = TableSpec(
    output="results/cifar/smoothness.csv",
    reference="cifar_smoothness.csv",
    keys=("model", "optimizer", "epoch"),
    default=Tol(rel=1e-3),
    tolerances={"d": EXACT, "acc": Tol(abs=0.01)},
    ignore=("seconds",),
)


def table(changes=None):
    rows = [
        {
            "model": "cnn",
            "optimizer": o,
            "epoch": e,
            "R_hat": 0.4 + 0.01 * i,
            "d": 1250858,
            "acc": 0.5,
            "reduction": "min",
            "seconds": 1.0 + i,
        }
        for i, (o, e) in enumerate((o, e) for o in ("sgd", "signsgd") for e in (0, 1))
    ]
    frame = pd.DataFrame(rows)
    for (row, col), value in (changes or {}).items():
        frame.loc[row, col] = value
    return frame


def messages(expected, actual):
    return [d.message for d in compare(expected, actual, SPEC) if d.beyond_tolerance]


def test_identical_tables_match_and_wall_clock_is_ignored():
    assert messages(table(), table({(0, "seconds"): 99.0})) == []


def test_moved_number_names_file_row_column_expected_and_actual():
    expected = table({(3, "R_hat"): 0.4312})
    actual = table({(3, "R_hat"): 0.4411})
    assert messages(expected, actual) == [
        "results/cifar/smoothness.csv row 3 (model=cnn, optimizer=signsgd, epoch=1) column R_hat:"
        " expected 0.4312, got 0.4411 (rel. diff 2.3e-02 > tol 1e-03)"
    ]


def test_difference_within_tolerance_passes():
    assert messages(table({(1, "R_hat"): 0.41}), table({(1, "R_hat"): 0.41 * (1 + 5e-4)})) == []
    assert messages(table(), table({(2, "acc"): 0.505})) == []


def test_exact_and_absolute_tolerances():
    assert messages(table(), table({(0, "d"): 1250859})) == [
        "results/cifar/smoothness.csv row 0 (model=cnn, optimizer=sgd, epoch=0) column d:"
        " expected 1250858, got 1250859 (diff 1.0e+00, exact match required)"
    ]
    assert messages(table(), table({(2, "acc"): 0.52})) == [
        "results/cifar/smoothness.csv row 2 (model=cnn, optimizer=signsgd, epoch=0) column acc:"
        " expected 0.5, got 0.52 (abs. diff 2.0e-02 > tol 1e-02)"
    ]


def test_strings_compare_exactly():
    assert messages(table(), table({(1, "reduction"): "max"})) == [
        "results/cifar/smoothness.csv row 1 (model=cnn, optimizer=sgd, epoch=1) column reduction:"
        " expected min, got max"
    ]


def test_rows_are_matched_by_key_not_position():
    shuffled = table().iloc[[3, 1, 0, 2]].reset_index(drop=True)
    assert messages(table(), shuffled) == []


def test_missing_row_fails():
    assert messages(table(), table().drop(index=2)) == [
        "results/cifar/smoothness.csv row 2 (model=cnn, optimizer=signsgd, epoch=0):"
        " missing from the output"
    ]


def test_extra_row_fails():
    extra = pd.concat([table(), table().iloc[[0]].assign(epoch=2)], ignore_index=True)
    assert messages(table(), extra) == [
        "results/cifar/smoothness.csv: output row 4 (model=cnn, optimizer=sgd, epoch=2)"
        " not in the reference (extra)"
    ]


def test_missing_and_new_columns_fail():
    assert messages(table(), table().drop(columns="R_hat").assign(phi=1.0)) == [
        "results/cifar/smoothness.csv column R_hat: missing from the output",
        "results/cifar/smoothness.csv column phi: not in the reference (new column)",
    ]


def test_duplicate_keys_fail():
    dup = pd.concat([table(), table().iloc[[0]]], ignore_index=True)
    assert messages(table(), dup) == [
        "results/cifar/smoothness.csv: output has duplicate rows"
        " (model=cnn, optimizer=sgd, epoch=0)"
    ]


@pytest.mark.parametrize(
    "expected, actual, ok",
    [
        (float("nan"), float("nan"), True),
        (float("inf"), float("inf"), True),
        (float("inf"), 1e300, False),
        (1.0, float("nan"), False),
        (0.0, 1e-300, False),
    ],
)
def test_non_finite_values(expected, actual, ok):
    assert numeric_difference(expected, actual, Tol(rel=1e-3))[0] is ok


def test_every_spec_has_distinct_reference_files():
    assert len({s.reference for s in TABLES}) == len({s.output for s in TABLES}) == len(TABLES)


def test_refresh_writes_references_and_reports_changes(tmp_path, capsys):
    spec = SPEC
    workdir, refs = tmp_path / "run", tmp_path / "refs"
    (workdir / "results/cifar").mkdir(parents=True)
    table().to_csv(workdir / spec.output, index=False)
    assert refresh(workdir, refs, [spec]) == 1
    stored = pd.read_csv(refs / spec.reference)
    assert "seconds" not in stored
    assert check_workdir(workdir, refs, [spec]) == []

    table({(3, "R_hat"): 0.5}).to_csv(workdir / spec.output, index=False)
    assert len(check_workdir(workdir, refs, [spec])) == 1
    capsys.readouterr()
    assert refresh(workdir, refs, [spec]) == 1
    out = capsys.readouterr().out
    assert "1 difference(s), 1 beyond tolerance" in out
    assert "column R_hat: expected 0.43, got 0.5" in out
    assert check_workdir(workdir, refs, [spec]) == []
