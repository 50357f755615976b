"""bench/bench_quick_vs_commit.py's table comparison: wall-clock columns never count, any other
change (a value, a row) is named."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench/bench_quick_vs_commit.py"
spec = importlib.util.spec_from_file_location("bench_quick", BENCH)
bench = importlib.util.module_from_spec(spec)
sys.modules["bench_quick"] = bench
spec.loader.exec_module(bench)


def test_only_measured_times_may_differ():
    a = pd.DataFrame({"epoch": [0, 1], "R_hat": [1.5, 2.0], "seconds": [3.0, 4.0]})
    b = a.assign(seconds=[9.0, 9.5], epoch_seconds=[1.0, 2.0], test_loss=[0.1, 0.2])
    assert bench.table_differences(a, b) == []
    assert bench.table_differences(a, b.assign(R_hat=[1.5, 2.0 + 1e-12])) == ["R_hat"]
    assert bench.table_differences(a, a.iloc[:1]) == ["rows"]
