"""Benchmark of the Prop. 5 stage (prints a table; no assertions).

Wall time of ``L_sep`` for every Hessian of the paper-scale Figure 2 grid (config.yaml's
quadratic section: 26 x 19 cells x 10 rotations = 4,940 Hessians, d = 12), per spectrum family
and SDP solver, with the certified gap and the bound-chain ratios. The exact ``L_inf`` comes
first (not timed here; see bench_figure2.py).

    python bench/bench_separable.py [--families one_outlier power_law] [--solvers clarabel]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from signgeom.config import load_config_files
from signgeom.quadratic.constants import smoothness_constants
from signgeom.quadratic.hessians import build_grid
from signgeom.quadratic.separable import check_chain, separable_table
from signgeom.workflow import REPO


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["one_outlier", "power_law"])
    parser.add_argument("--solvers", nargs="+", default=["clarabel"])
    parser.add_argument("--ratio-max", type=float, default=None, help="override lambda_ratio.max")
    parser.add_argument("--out-dir", type=Path, default=None, help="write <family>.csv tables here")
    args = parser.parse_args()
    q = load_config_files(REPO / "config.yaml")["quadratic"]
    thetas = np.linspace(q["theta"]["min"], q["theta"]["max"], q["theta"]["num"])
    top = args.ratio_max or q["lambda_ratio"]["max"]
    ratios = np.linspace(q["lambda_ratio"]["min"], top, q["lambda_ratio"]["num"])
    tol = q["separable"]["tol"]
    print(
        f"{'family':>14} {'solver':>9} {'SDPs':>5} {'time [s]':>9} {'ms/SDP':>7} "
        f"{'max gap':>8} {'Lsep/Linf max':>14} {'prop3/Linf max':>15}"
    )
    for family in args.families:
        grid = build_grid(q["dim"], thetas, ratios, q["rotations"], 0, family)
        constants = smoothness_constants(grid, q["max_exact_dim"])
        for solver in args.solvers:
            start = time.perf_counter()
            table = separable_table(grid, constants, solver, tol)
            wall = time.perf_counter() - start
            check_chain(table, tol)
            if args.out_dir is not None:
                args.out_dir.mkdir(parents=True, exist_ok=True)
                table.to_csv(args.out_dir / f"{family}.csv", index=False, float_format="%.17g")
            gap = ((table["Lsep"] - table["Lsep_lower"]) / table["Lsep"]).max()
            print(
                f"{family:>14} {solver:>9} {len(table):>5} {wall:>9.1f} "
                f"{1e3 * wall / len(table):>7.2f} {gap:>8.1e} "
                f"{table['lsep_over_linf'].max():>14.4f} {table['prop3_over_linf'].max():>15.4f}"
            )


if __name__ == "__main__":
    main()
