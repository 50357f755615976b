"""Wall time of the quick preset, this tree against an earlier commit, side by side.

The README's main command (``snakemake --cores N --configfile presets/quick.yaml``) runs in two
fresh exports of the repository (``git archive``: this tree's working copy and the baseline
commit), each with its own ``src/`` first on ``PYTHONPATH`` and the bundled CIFAR-10 subset
linked in. Runs alternate in ABBA order over ``--rounds`` rounds, each in an empty work
directory, so neither tree is favoured by a warm cache or a quieter minute. The table gives
every run's wall time, the best per tree and the ratio baseline / here (> 1: this tree is
faster), and checks that both trees wrote the same claims and tables (equal on the columns and
rows both have, wall-clock columns left out: the quick preset is strict fp32 and deterministic
on a CPU), naming the columns that differ. ``--here-overlay``
adds a preset on top for this tree only (to leave out a model the baseline does not have).

    python bench/bench_quick_vs_commit.py [--baseline f4c279f] [--rounds 1] [--cores 2]
        [--here-overlay FILE]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMPARED = (
    "results/cifar/claims.csv",
    "results/cifar/metrics.csv",
    "results/cifar/smoothness.csv",
    "results/cifar/step_sizes.csv",
)


def export(ref: str | None, dest: Path) -> Path:
    """The tree at ``ref`` (None: the working copy's tracked files) extracted into ``dest``."""
    dest.mkdir(parents=True)
    if ref is None:
        files = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
        ).stdout.split(b"\0")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name in filter(None, files):
                path = REPO / name.decode()
                if path.is_file() or path.is_symlink():
                    tar.add(path, arcname=name.decode(), recursive=False)
        data = buf.getvalue()
    else:
        data = subprocess.run(
            ["git", "archive", "--format=tar", ref], cwd=REPO, capture_output=True, check=True
        ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="tar")
    return dest


def run_quick(tree: Path, cores: int, overlay: Path | None) -> tuple[float, dict[str, object]]:
    """Seconds of one quick-preset run in a clean copy of ``tree`` (``overlay`` on top); its
    tables."""
    work = Path(tempfile.mkdtemp(prefix="quick-", dir=tree.parent))
    subprocess.run(["cp", "-a", f"{tree}/.", str(work)], check=True)
    env = dict(os.environ, PYTHONPATH=str(work / "src"))
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--quiet", "all"]
    cmd += ["--configfile", "presets/quick.yaml", *([str(overlay)] if overlay else [])]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"quick preset failed in {work}:\n{done.stderr[-3000:]}")
    import pandas as pd

    tables = {rel: pd.read_csv(work / rel) for rel in COMPARED if (work / rel).exists()}
    subprocess.run(["rm", "-rf", str(work)], check=True)
    return seconds, tables


def is_wall_clock(column: str) -> bool:
    """Columns of measured wall-clock time (``seconds``, ``epoch_seconds``): never compared."""
    return column == "seconds" or column.endswith("_seconds")


def table_differences(a, b) -> list[str]:
    """The columns both tables have, wall-clock ones left out, that differ (rows in the same
    order); ``["rows"]`` where the row counts differ."""
    if a.shape[0] != b.shape[0]:
        return ["rows"]
    columns = [c for c in a.columns if c in b.columns and not is_wall_clock(c)]
    return [c for c in columns if not a[c].equals(b[c])]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="f4c279f", help="commit to compare against")
    parser.add_argument("--rounds", type=int, default=1, help="ABBA rounds (2 runs per tree)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--here-overlay", type=Path, default=None, help="this tree's extra preset")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-quick-") as tmp:
        trees = {
            "here": export(None, Path(tmp) / "here"),
            args.baseline: export(args.baseline, Path(tmp) / "baseline"),
        }
        order = ["here", args.baseline, args.baseline, "here"] * args.rounds
        times: dict[str, list[float]] = {name: [] for name in trees}
        tables: dict[str, dict[str, object]] = {}
        for name in order:
            overlay = args.here_overlay.resolve() if name == "here" and args.here_overlay else None
            seconds, tables[name] = run_quick(trees[name], args.cores, overlay)
            times[name].append(seconds)
            print(f"{name:>10}: {seconds:7.1f} s", flush=True)
    best = {name: min(t) for name, t in times.items()}
    print(f"\nquick preset, --cores {args.cores}, ABBA x {args.rounds}")
    print(f"{'tree':>10} {'runs (s)':>24} {'best (s)':>9}")
    for name, t in times.items():
        print(f"{name:>10} {' '.join(f'{x:7.1f}' for x in t):>24} {best[name]:9.1f}")
    print(f"ratio {args.baseline} / here (best): {best[args.baseline] / best['here']:.3f}")
    for rel in COMPARED:
        here, base = tables["here"].get(rel), tables[args.baseline].get(rel)
        if here is None or base is None:
            print(f"{rel}: missing in {'here' if here is None else args.baseline}")
            continue
        differing = table_differences(here, base)
        print(f"{rel}: {'DIFFERS in ' + ', '.join(differing) if differing else 'equal'}")


if __name__ == "__main__":
    main()
