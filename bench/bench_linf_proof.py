"""Time to a proof of ``L_inf(H) = max_s s^T H s``: enumeration against :mod:`signgeom.linf`.

A fixed seeded set of instances per ``d``:

* ``random``: dense PSD ``H = A A^T``, ``A`` with i.i.d. standard normal entries (seed ``d``);
* ``paper``: the paper's family ``one_outlier`` (:func:`signgeom.quadratic.hessians.
  hessian_for_cell`), rotation exponent and ratio ``lambda_max / lambda_bar`` cycling through
  ``(0.25, 2)``, ``(0.5, d/4)``, ``(1, d/2)``.

Per ``d`` and set: the enumeration's time (:func:`signgeom.norms.psd_inf_to_one_norm`, the
pipeline's path; ``d`` in ``--enum-dims``), the branch and bound's time to a certificate
(:func:`signgeom.linf.branch_and_bound.branch_and_bound`, forced even where the dispatcher
would enumerate; ``d`` in ``--solver-dims``), both as median and worst over the instances;
the branch and bound's median and worst node count, its worst relative gap
``(upper - value) / value`` and how many instances it certified within ``--time-limit``
seconds. ``agree``: every value proven by two methods agrees to ``1e-9`` relative
(enumeration, branch and bound, and for ``paper`` the identity-plus-rank-1 structure path,
whose time is the ``structure`` column).

    python bench/bench_linf.py --proof [--enum-dims 20 24 28 30] [--solver-dims 30 35 40 50]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import time
from collections.abc import Sequence

import numpy as np

from signgeom.linf.branch_and_bound import branch_and_bound
from signgeom.linf.structure import identity_plus_rank_k
from signgeom.norms import psd_inf_to_one_norm
from signgeom.quadratic.hessians import hessian_for_cell, identity_plus_rank_structure

PAPER_CELLS = ((0.25, lambda d: 2.0), (0.5, lambda d: d / 4), (1.0, lambda d: d / 2))


def instances(kind: str, d: int, count: int) -> list[np.ndarray]:
    """The fixed instances of one set at dimension ``d``."""
    if kind == "random":
        rng = np.random.default_rng(d)
        out = []
        for _ in range(count):
            a = rng.standard_normal((d, d))
            out.append(a @ a.T)
        return out
    cells = [PAPER_CELLS[i % len(PAPER_CELLS)] for i in range(count)]
    return [
        hessian_for_cell(th, r(d), d, rotation_seed=i, family="one_outlier")
        for i, (th, r) in enumerate(cells)
    ]


def stats(values: list[float], fmt: str = "{:.3f}") -> str:
    if not values:
        return f"{'—':>8} {'—':>8}"
    return f"{fmt.format(np.median(values)):>8} {fmt.format(max(values)):>8}"


def row(kind: str, d: int, count: int, args: argparse.Namespace) -> str:
    hs = instances(kind, d, count)
    enum_t, bb_t, nodes, gaps, certified, st_t = ([] for _ in range(6))
    agree: list[bool] = []
    for h in hs:
        proven = []  # every value proven for this instance
        if d in args.enum_dims:
            t0 = time.perf_counter()
            proven.append(float(psd_inf_to_one_norm(h, max_dim=d)))
            enum_t.append(time.perf_counter() - t0)
        if d in args.solver_dims:
            r = branch_and_bound(h, time_limit=args.time_limit)
            bb_t.append(r.seconds)
            nodes.append(float(r.nodes))
            gaps.append(r.gap / r.value)
            certified.append(r.certified)
            if r.certified:
                proven.append(r.value)
        if kind == "paper":
            structure = identity_plus_rank_structure("one_outlier", np.linalg.eigvalsh(h))
            r = identity_plus_rank_k(h, *structure)
            st_t.append(r.seconds)
            proven.append(r.value)
        if len(proven) > 1:
            agree.append(max(proven) - min(proven) <= 1e-9 * max(proven))
    agree_s = str(all(agree)) if agree else "—"
    cert = f"{sum(certified)}/{len(certified)}" if certified else "—"
    gap = f"{max(gaps):.2e}" if gaps else "—"
    return (
        f"{kind:>6} {d:>3} {len(hs):>2}  {stats(enum_t)}  {stats(bb_t)}  "
        f"{stats(nodes, '{:.0f}')}  {gap:>9} {cert:>5}  "
        f"{stats(st_t, '{:.4f}') if st_t else '—':>17}  {agree_s}"
    )


def header(args: argparse.Namespace) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"time to a proof of L_inf = max_s s^T H s [s], median and worst over the instances; "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, commit {commit or '?'}"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, SHARED "
        f"with other jobs (load average {os.getloadavg()[0]:.1f} at start), run under nice "
        f"{os.nice(0)}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'default')}"
    )
    print(
        f"branch and bound: time limit {args.time_limit:g} s per instance, certificate tolerance "
        "1e-9 sum|H_ij| (gap = (upper - value) / value)"
    )
    print(
        f"{'set':>6} {'d':>3} {'n':>2}  {'enum med':>8} {'worst':>8}  {'B&B med':>8} "
        f"{'worst':>8}  {'nodes md':>8} {'worst':>8}  {'worst gap':>9} {'cert':>5}  "
        f"{'structure md/worst':>17}  agree"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enum-dims", type=int, nargs="*", default=[20, 24, 28, 30])
    parser.add_argument("--solver-dims", type=int, nargs="+", default=[20, 24, 28, 30, 35, 40, 50])
    parser.add_argument("--random", type=int, default=5, help="random instances per d")
    parser.add_argument("--paper", type=int, default=3, help="paper-family instances per d")
    parser.add_argument("--time-limit", type=float, default=120.0)
    args = parser.parse_args(argv)
    header(args)
    for kind, count in (("random", args.random), ("paper", args.paper)):
        for d in sorted(set(args.enum_dims) | set(args.solver_dims)):
            print(row(kind, d, count, args), flush=True)


if __name__ == "__main__":
    main()
