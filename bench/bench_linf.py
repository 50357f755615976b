"""Benchmark of the exact ``||H||_{inf,1}`` of a PSD matrix at growing d (prints a table).

Side by side, on one random PSD matrix ``A A^T`` per d (best of ``--repeats`` wall times):

* ``ours PSD``: :func:`signgeom.norms.psd_inf_to_one_norm` (``max_s s^T H s`` as tiled BLAS
  products; the path the pipeline takes for PSD Hessians);
* ``ours general``: :func:`signgeom.norms.inf_to_one_norm` (``max_s ||H s||_1``, any matrix),
  up to ``--general-max-dim``;
* ``C Gray``: a compiled Gray-code enumeration of ``s^T H s`` (one sign flips per step:
  ``q += 4 H_ii - 4 s_i (H s)_i``, ``H s`` updated by one column, ``O(d)`` per vector). The C
  source is written to a temporary directory and built with the system compiler (``cc``,
  ``-O3 -march=native``); the timing is taken inside the program (reading the matrix excluded).
  Skipped with a message when there is no compiler;
* ``naive``: :func:`signgeom.norms.brute_force_inf_to_one_norm` (materialises all ``2^d`` sign
  vectors), up to ``--naive-max-dim`` (memory ``16 d 2^d`` bytes).

All values must agree (``agree``: relative difference below 1e-9). BLAS threads follow the
environment (``OPENBLAS_NUM_THREADS``); the C program is single-threaded.

    python bench/bench_linf.py [--dims 12 16 20 24 28 30] [--repeats 3]

``--proof`` prints instead the time to a *proof* of ``L_inf`` over a fixed seeded set of
instances, enumeration against the certified solver :mod:`signgeom.linf` (see
:mod:`bench_linf_proof`):

    python bench/bench_linf.py --proof [--enum-dims 20 24 28 30] [--solver-dims 30 35 40 50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from signgeom.norms import brute_force_inf_to_one_norm, inf_to_one_norm, psd_inf_to_one_norm

GRAY_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* max over s in {-1,1}^d with s_{d-1} = +1 of s^T H s, by Gray-code enumeration.
   stdin: d, then the d*d entries of a symmetric H (row-major).
   stdout: the maximum and the seconds spent enumerating. */
int main(void) {
    int d;
    if (scanf("%d", &d) != 1 || d < 1 || d > 62) return 1;
    double *h = malloc(sizeof(double) * d * d), *g = malloc(sizeof(double) * d);
    double *s = malloc(sizeof(double) * d);
    for (int i = 0; i < d * d; i++)
        if (scanf("%lf", &h[i]) != 1) return 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double q = 0.0;
    for (int i = 0; i < d; i++) {
        s[i] = 1.0;
        g[i] = 0.0;
        for (int j = 0; j < d; j++) g[i] += h[i * d + j];
        q += g[i];
    }
    double best = q;
    unsigned long long n = 1ULL << (d - 1);
    for (unsigned long long k = 1; k < n; k++) {
        int i = __builtin_ctzll(k);
        const double *col = h + (size_t)i * d;
        double si = s[i];
        q += 4.0 * col[i] - 4.0 * si * g[i];
        double f = -2.0 * si;
        for (int j = 0; j < d; j++) g[j] += f * col[j];
        s[i] = -si;
        if (q > best) best = q;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.17g %.9f\n", best, (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec));
    return 0;
}
"""


def best_time(fn, repeats: int) -> tuple[float, float]:
    """(best wall time in seconds, value) over ``repeats`` calls."""
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, float(value)


def build_gray(tmp: Path) -> Path | None:
    """Compile the Gray-code program; ``None`` (with a message) when no compiler works."""
    compiler = next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
    if compiler is None:
        print("C Gray-code column skipped: no C compiler (cc, gcc, clang) on PATH")
        return None
    src, exe = tmp / "gray.c", tmp / "gray"
    src.write_text(GRAY_C)
    for flags in (["-O3", "-march=native"], ["-O3"]):
        done = subprocess.run([compiler, *flags, "-o", str(exe), str(src)], capture_output=True)
        if done.returncode == 0:
            return exe
    print(f"C Gray-code column skipped: {compiler} failed: {done.stderr.decode()[-500:]}")
    return None


def run_gray(exe: Path, h: np.ndarray, repeats: int) -> tuple[float, float]:
    """(best in-program seconds, value) of the compiled enumeration."""
    text = f"{h.shape[0]}\n" + " ".join(f"{v:.17g}" for v in h.ravel()) + "\n"
    best, value = float("inf"), None
    for _ in range(repeats):
        out = subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True)
        value, seconds = (float(x) for x in out.stdout.split())
        best = min(best, seconds)
    return best, value


def fmt(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.4f}"


def main() -> None:
    if "--proof" in sys.argv[1:]:
        from bench_linf_proof import main as proof_main

        proof_main([a for a in sys.argv[1:] if a != "--proof"])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[12, 16, 20, 24, 28, 30])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--general-max-dim", type=int, default=24)
    parser.add_argument("--naive-max-dim", type=int, default=20)
    args = parser.parse_args()
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(
        f"exact ||H||_inf,1 of one random PSD matrix, best of {args.repeats} [s] "
        f"(OPENBLAS_NUM_THREADS={threads}, {os.cpu_count()} CPUs)"
    )
    print(
        f"{'d':>3} {'ours PSD':>10} {'ours general':>13} {'C Gray':>10} {'naive':>10} "
        f"{'C/ours':>7}  agree"
    )
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_gray(Path(tmp))
        for d in args.dims:
            a = rng.standard_normal((d, d))
            h = a @ a.T
            times: dict[str, float | None] = {}
            values = []
            times["psd"], v = best_time(
                lambda h=h, d=d: psd_inf_to_one_norm(h, max_dim=d), args.repeats
            )
            values.append(v)
            times["general"] = times["gray"] = times["naive"] = None
            if d <= args.general_max_dim:
                reps = args.repeats if d <= 20 else 1
                times["general"], v = best_time(
                    lambda h=h, d=d: inf_to_one_norm(h, max_dim=d), reps
                )
                values.append(v)
            if exe is not None:
                times["gray"], v = run_gray(exe, h, args.repeats if d <= 28 else 1)
                values.append(v)
            if d <= args.naive_max_dim:
                times["naive"], v = best_time(lambda h=h: brute_force_inf_to_one_norm(h), 1)
                values.append(v)
            agree = bool(np.allclose(values, values[0], rtol=1e-9, atol=0))
            ratio = "—" if times["gray"] is None else f"{times['gray'] / times['psd']:.1f}x"
            print(
                f"{d:>3} {fmt(times['psd']):>10} {fmt(times['general']):>13} "
                f"{fmt(times['gray']):>10} {fmt(times['naive']):>10} {ratio:>7}  {agree}",
                flush=True,
            )


if __name__ == "__main__":
    main()
