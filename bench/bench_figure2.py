"""Benchmark of the Figure 2 chain (prints a table; no assertions).

1. Exact ``||H||_{inf,1}``: the blocked enumeration of ``signgeom.norms.inf_to_one_norm``
   against a naive brute force that materialises all ``2^d`` sign vectors, for d = 12, 16, 20
   (best of ``--repeats`` runs each, on random PSD matrices), and the speedup.
2. Wall time of the paper-scale Figure 2 stage (config.yaml's quadratic section) through
   Snakemake in a temporary directory, Snakemake start-up included.

    python bench/bench_figure2.py [--repeats 3] [--skip-workflow]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from signgeom.norms import brute_force_inf_to_one_norm, inf_to_one_norm, psd_inf_to_one_norm
from signgeom.workflow import snakemake_command


def best_time(fn, repeats: int) -> tuple[float, float]:
    """(best wall time in seconds, value) over ``repeats`` calls."""
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, float(value)


def bench_norms(repeats: int) -> None:
    print(f"exact ||H||_inf,1 (one random PSD matrix, best of {repeats})")
    print(
        f"{'d':>3} {'blocked [s]':>12} {'naive [s]':>10} {'speedup':>8} {'PSD-only [s]':>13}  agree"
    )
    rng = np.random.default_rng(0)
    for d in (12, 16, 20):
        a = rng.standard_normal((d, d))
        h = a @ a.T
        t_exact, v_exact = best_time(lambda h=h: inf_to_one_norm(h), repeats)
        t_naive, v_naive = best_time(lambda h=h: brute_force_inf_to_one_norm(h), repeats)
        t_psd, v_psd = best_time(lambda h=h: psd_inf_to_one_norm(h), repeats)
        agree = np.isclose(v_exact, v_naive, rtol=1e-12) and np.isclose(v_psd, v_naive, rtol=1e-12)
        print(
            f"{d:>3} {t_exact:>12.4f} {t_naive:>10.4f} {t_naive / t_exact:>7.1f}x "
            f"{t_psd:>13.4f}  {agree}"
        )


def bench_workflow() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = snakemake_command(tmp, "figure2", "--cores", "2")
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - start
        print(
            f"\npaper-scale Figure 2 stage (26 x 19 cells x 10 rotations x 100 starts, T = 100),"
            f" snakemake --cores 2 figure2: {wall:.1f} s wall"
        )
        for tsv in sorted(Path(tmp, "benchmarks").rglob("*.tsv")):
            seconds = float(tsv.read_text().splitlines()[1].split("\t")[0])
            print(f"  {tsv.relative_to(tmp)}: {seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-workflow", action="store_true")
    args = parser.parse_args()
    bench_norms(args.repeats)
    if not args.skip_workflow:
        bench_workflow()


if __name__ == "__main__":
    main()
