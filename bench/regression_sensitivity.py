"""How far the regression-checked numbers move under rounding-level changes (prints tables).

Reruns quick-preset stages through Snakemake, one temporary working directory per *variant*,
and prints for every table and column the largest difference from the committed references
(``tests/regression/``), in the scale the check compares (``signgeom.regression``: linear, or
log10 for the chaotic signGD distances), next to the tolerance. A variant changes only rounding:

* ``OPENBLAS_CORETYPE``: OpenBLAS (NumPy/SciPy) kernels, ``haswell`` (AVX2), ``sandybridge``
  (AVX), ``nehalem`` (SSE4), ``prescott`` (SSE3), ``skylakex`` (AVX-512; only on a CPU with
  AVX-512: elsewhere OpenBLAS dies with SIGILL, so it is skipped);
* ``ATEN_CPU_CAPABILITY`` (PyTorch's vectorised kernels, ``aten-avx2``/``aten-default``) and
  ``ONEDNN_MAX_CPU_ISA`` (convolutions, ``kernels-sse``);
* ``threads2``: 2 threads per job (``resources.<step>.cpus: 2``, which Snakemake exports as
  ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``);
* ``numpy-baseline``: NumPy's own SIMD loops (sums, elementwise) without their AVX2/FMA
  versions (``NPY_DISABLE_CPU_FEATURES=X86_V3``);
* ``ulp2`` (quadratic only): every entry of every non-diagonal Hessian multiplied by
  ``1 + 2 eps u``, ``u = +-1`` at random (symmetric), after the Hessian step and before the
  constants and runs. Diagonal Hessians (``theta = 0``: ``R^0 = I``) are built exactly on every
  machine (products with exact 0 and 1), so no machine can perturb them; ``ulp2-all`` perturbs
  them too and shows that signGD there is chaotic (see tests/regression/README.md);
* ``all-sse``: every kernel switch at once, with 2 threads (the CIFAR chain's default variant,
  as it costs ~3 min per run).

    python bench/regression_sensitivity.py                          # quadratic stage, all variants
    python bench/regression_sensitivity.py --stage cifar                # all-sse only
    python bench/regression_sensitivity.py --stage cifar --variants kernels-sse threads2
    python bench/regression_sensitivity.py --list

Cost: the quadratic stage ~20-30 s per variant, the CIFAR chain ~3 min per variant on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from signgeom.io import read_table
from signgeom.regression import TABLES, TableSpec, column_spread, reference_dir
from signgeom.workflow import QUICK_PRESET, snakemake_command

STAGES: dict[str, tuple[list[str], list[TableSpec]]] = {
    "quadratic": (["results/quadratic/summary.csv"], [TABLES[0]]),
    "cifar": (
        [spec.output for spec in TABLES[1:]],
        list(TABLES[1:]),
    ),
}
HESSIANS = "results/quadratic/hessians.npz"


@dataclass(frozen=True)
class Variant:
    env: dict[str, str] = field(default_factory=dict)
    config: dict = field(default_factory=dict)  # merged over the quick preset
    ulp: int = 0  # Hessian entries perturbed by this many eps (quadratic only)
    diagonal: bool = False  # perturb diagonal Hessians too
    cpu_flag: str | None = None  # skipped unless /proc/cpuinfo lists this flag


TWO_THREADS = {"resources": {k: {"cpus": 2} for k in ("quadratic", "train", "smoothness")}}
VARIANTS: dict[str, Variant] = {
    "haswell": Variant({"OPENBLAS_CORETYPE": "Haswell"}),
    "sandybridge": Variant({"OPENBLAS_CORETYPE": "Sandybridge"}),
    "nehalem": Variant({"OPENBLAS_CORETYPE": "Nehalem"}),
    "prescott": Variant({"OPENBLAS_CORETYPE": "Prescott"}),
    "skylakex": Variant({"OPENBLAS_CORETYPE": "SkylakeX"}, cpu_flag="avx512f"),
    "aten-avx2": Variant({"ATEN_CPU_CAPABILITY": "avx2"}),
    "aten-default": Variant({"ATEN_CPU_CAPABILITY": "default"}),
    "kernels-sse": Variant({"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}),
    "numpy-baseline": Variant({"NPY_DISABLE_CPU_FEATURES": "X86_V3"}),
    "threads2": Variant(config=TWO_THREADS),
    "all-sse": Variant(
        {
            "OPENBLAS_CORETYPE": "Prescott",
            "NPY_DISABLE_CPU_FEATURES": "X86_V3",
            "ATEN_CPU_CAPABILITY": "default",
            "ONEDNN_MAX_CPU_ISA": "SSE41",
        },
        config=TWO_THREADS,
    ),
    "ulp2": Variant(ulp=2),
    "ulp2-all": Variant(ulp=2, diagonal=True),
}
DEFAULT_VARIANTS = {
    "quadratic": [
        "haswell",
        "sandybridge",
        "nehalem",
        "prescott",
        "skylakex",
        "aten-avx2",
        "aten-default",
        "numpy-baseline",
        "threads2",
        "ulp2",
    ],
    "cifar": ["all-sse"],
}


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {f for line in text.splitlines() if line.startswith("flags") for f in line.split()}


def perturb_hessians(path: Path, ulp: int, diagonal: bool, seed: int = 0) -> None:
    """Multiply every entry of every Hessian by ``1 + ulp eps u``, ``u = +-1``, except multiples
    of ``I`` and (unless ``diagonal``) diagonal Hessians."""
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    h = arrays["hessians"]
    flat = h.reshape(-1, h.shape[-2], h.shape[-1])
    rng = np.random.default_rng(seed)
    u = rng.choice([-1.0, 1.0], size=flat.shape)
    u = np.triu(u) + np.swapaxes(np.triu(u, 1), -1, -2)  # symmetric
    eye = np.eye(h.shape[-1])
    keep = np.all(flat == flat * eye, axis=(-2, -1))  # diagonal
    if diagonal:
        keep &= np.all(flat == flat[:, :1, :1] * eye, axis=(-2, -1))  # only multiples of I
    flat = np.where(keep[:, None, None], flat, flat * (1 + ulp * np.finfo(float).eps * u))
    arrays["hessians"] = flat.reshape(h.shape)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def run_variant(stage: str, variant: Variant, workdir: Path) -> float:
    """Run ``stage``'s targets under ``variant`` in ``workdir``; return the wall time."""
    targets, _ = STAGES[stage]
    extra = []
    if variant.config:
        path = workdir / "variant.yaml"
        path.write_text(yaml.safe_dump(variant.config))
        extra = [path]
    env = {**os.environ, "PYTHONHASHSEED": "0", **variant.env}

    def snakemake(*goals: str) -> None:
        cmd = snakemake_command(
            workdir, "--configfile", QUICK_PRESET, *extra, "--cores", "2", *goals
        )
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"snakemake failed in {workdir}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")

    start = time.perf_counter()
    if variant.ulp:
        snakemake(HESSIANS)
        perturb_hessians(workdir / HESSIANS, variant.ulp, variant.diagonal)
    snakemake(*targets)
    return time.perf_counter() - start


def spreads(stage: str, workdir: Path, references: Path) -> pd.DataFrame:
    rows = []
    for spec in STAGES[stage][1]:
        expected = read_table(references / spec.reference)
        actual = read_table(workdir / spec.output)
        rows.append(column_spread(expected, actual, spec).assign(table=spec.reference))
    return pd.concat(rows, ignore_index=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=sorted(STAGES), default="quadratic")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS))
    parser.add_argument("--references", type=Path, default=reference_dir())
    parser.add_argument("--out", type=Path, help="also write the per-variant spreads as CSV")
    parser.add_argument("--keep", type=Path, help="keep the working directories under this path")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    args = parser.parse_args()
    if args.list:
        for name, v in VARIANTS.items():
            print(f"{name:13} env={v.env} config={v.config} ulp={v.ulp} needs={v.cpu_flag}")
        return 0
    names = args.variants or DEFAULT_VARIANTS[args.stage]
    flags = cpu_flags()
    results = []
    with tempfile.TemporaryDirectory(prefix="signgeom-sensitivity-") as tmp:
        root = args.keep or Path(tmp)
        for name in names:
            variant = VARIANTS[name]
            if variant.cpu_flag and variant.cpu_flag not in flags:
                print(f"{name}: skipped, this CPU lacks {variant.cpu_flag}", flush=True)
                continue
            workdir = root / f"{args.stage}-{name}"
            workdir.mkdir(parents=True, exist_ok=True)
            wall = run_variant(args.stage, variant, workdir)
            table = spreads(args.stage, workdir, args.references).assign(variant=name)
            results.append(table)
            moved = table[table["max_diff"] > 0]
            print(f"\n== {name} ({wall:.0f} s): {len(moved)} column(s) moved", flush=True)
            if len(moved):
                print(moved.drop(columns="variant").to_string(index=False), flush=True)
    if not results:
        return 0
    every = pd.concat(results, ignore_index=True)
    worst = (
        every.sort_values("max_diff", ascending=False)
        .groupby(["table", "column"], sort=False)
        .first()
        .reset_index()
    )
    worst = worst[worst["max_diff"] > 0]
    print(f"\n== largest difference per column over {len(results)} variant(s)")
    print(worst.to_string(index=False))
    if args.out:
        every.to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
