"""CPU training and estimate speed of this tree against an earlier commit, side by side.

"Nothing gets slower" is a claim about two versions of the code on one machine, so both are
measured in one run: the baseline's ``src/`` is exported with ``git archive`` and each
measurement runs in a fresh worker process with either tree first on ``sys.path``. Workers
alternate in ABBA order over ``--rounds`` rounds (the first process of a round is not
favoured), and each worker reports the best of ``--repeats`` timed epochs after a warm-up
epoch: strict fp32, deterministic kernels, batch 1000, the same images and seed; and one
smoothness estimate (``1 + 2 len(gammas)`` gradient passes over the same images). The table
gives the best over rounds and the ratio here / baseline (> 1: this tree is faster).

The workers use only API that both trees share (``load_cifar10``, ``build_model``,
``build_optimizer``, positional ``train_epoch``, ``make_chunks`` (found where each tree has
it), ``estimate_smoothness``).

    python bench/bench_cifar_vs_commit.py [--baseline 6044ae0] [--rounds 2] [--repeats 2]
        [--models cnn resnet20] [--no-estimate]

The per-worker best epochs are printed too: on a shared or virtual CPU they spread by 10-20%,
so compare the best over several rounds, not one worker against another.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "data/cifar10-subset/cifar-10-batches-py"
MODELS = ("cnn", "resnet20")
BATCH = 1000
GAMMAS = (0.5, 1.0)


def export_src(commit: str, dest: Path) -> Path:
    """``src/`` of ``commit`` extracted under ``dest`` (nothing is installed)."""
    archive = dest / "src.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(REPO), "archive", commit, "src"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def worker(
    images: int, repeats: int, models: list[str], estimate: bool
) -> dict[str, dict[str, float]]:
    """Best training images/s and estimate seconds per model, with whichever signgeom
    ``sys.path`` finds first."""
    import torch
    import torch.nn.functional as F

    from signgeom.estimate.smoothness import estimate_smoothness
    from signgeom.tasks.cifar.data import load_cifar10
    from signgeom.tasks.cifar.models import build_model
    from signgeom.training.optimizers import build_optimizer
    from signgeom.training.train import train_epoch

    try:
        from signgeom.estimate.fixed_objective import make_chunks
    except ImportError:  # a baseline from before the fixed-objective module
        from signgeom.estimate.smoothness import make_chunks

    torch.use_deterministic_algorithms(True, warn_only=True)
    data = load_cifar10(DATA_DIR, test_limit=1)
    reps = -(-images // data.train_x.shape[0])
    x = data.train_x.repeat(reps, 1, 1, 1)[:images]
    y = data.train_y.repeat(reps)[:images]
    out: dict[str, dict[str, float]] = {}
    for name in models:
        torch.manual_seed(0)
        net = build_model(name)
        opt = build_optimizer("sgd", net.parameters(), lr=0.01)
        best = float("inf")
        for epoch in range(repeats + 1):
            start = time.perf_counter()
            train_epoch(net, opt, x, y, BATCH, epoch)
            if epoch > 0:  # epoch 0 is the warm-up
                best = min(best, time.perf_counter() - start)
        out[name] = {"train": images / best, "estimate": float("nan")}
        if estimate:
            chunks = make_chunks(x, y, images, 5000)
            kw = dict(alpha_gd=0.01, alpha_sign=1e-4, gammas=GAMMAS)
            start = time.perf_counter()
            estimate_smoothness(net, F.cross_entropy, chunks, **kw)
            out[name]["estimate"] = time.perf_counter() - start
    return out


def run_worker(src: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, __file__, "--worker", "--images", str(args.images)]
    cmd += ["--repeats", str(args.repeats), "--models", *args.models]
    cmd += [] if args.estimate else ["--no-estimate"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker with {src} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="6044ae0", help="commit to compare against")
    parser.add_argument("--rounds", type=int, default=2, help="ABBA rounds of worker pairs")
    parser.add_argument("--repeats", type=int, default=2, help="timed epochs per worker")
    parser.add_argument("--images", type=int, default=4000, help="training images per epoch")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument(
        "--no-estimate", dest="estimate", action="store_false", help="training rates only"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.images, args.repeats, args.models, args.estimate)))
        return
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        trees = {"here": REPO / "src", args.baseline: export_src(args.baseline, Path(tmp))}
        # per tree and model, each worker's {"train": images/s, "estimate": s} in run order
        runs: dict[str, dict[str, list[dict[str, float]]]] = {t: {} for t in trees}
        order = list(trees)
        for r in range(args.rounds):
            for tree in order if r % 2 == 0 else order[::-1]:
                for model, m in run_worker(trees[tree], args).items():
                    runs[tree].setdefault(model, []).append(m)
    base = args.baseline
    print(
        f"cpu, torch {torch.__version__}, threads {torch.get_num_threads()}, {args.images} "
        f"images, batch {BATCH}, strict fp32; best of {args.rounds} workers x {args.repeats} "
        f"epochs per tree; estimate: {1 + 2 * len(GAMMAS)} gradient passes over the same images"
    )
    print(
        f"{'model':<9} {'train here':>11} {'train ' + base:>15} {'ratio':>6} "
        f"{'estimate here [s]':>18} {'estimate ' + base + ' [s]':>22} {'ratio':>6}"
    )
    best = {
        tree: {
            model: {
                "train": max(m["train"] for m in ms),
                "estimate": min(m["estimate"] for m in ms),
            }
            for model, ms in by_model.items()
        }
        for tree, by_model in runs.items()
    }
    for model in args.models:
        h, b = best["here"][model], best[base][model]
        est = (
            f" {h['estimate']:>18.2f} {b['estimate']:>22.2f} {b['estimate'] / h['estimate']:>5.2f}x"
            if args.estimate
            else f" {'-':>18} {'-':>22} {'-':>6}"
        )
        print(
            f"{model:<9} {h['train']:>11.0f} {b['train']:>15.0f} {h['train'] / b['train']:>5.2f}x"
            + est
        )
    print("(train: images/s; ratios > 1 mean this tree is faster)")
    print("best epoch of each worker, in order [images/s]:")
    for tree in trees:
        for model in args.models:
            print(
                f"  {tree:<9} {model:<9} "
                + " ".join(f"{m['train']:.0f}" for m in runs[tree][model])
            )


if __name__ == "__main__":
    main()
