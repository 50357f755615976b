"""Time of the character LM on this machine: one training run and one R_hat estimate, through
the project's own ``train_run`` and ``smoothness.estimate_run``, and what a preset costs.

One run of ``--model`` trains ``--epochs`` epochs of ``--train-limit`` sequences in minibatches
of ``--batch-size`` (SGD with momentum); its ``metrics.csv`` gives the seconds per epoch (steps
and evaluations). One estimate at ``--n-examples`` sequences is timed per snapshot. The preset
extrapolation multiplies: runs = optimizers x (grid points + seeds at the selected step size),
each ``--preset-epochs`` epochs with ``--preset-snapshots`` estimates along the selected runs.

    nice -n 5 python bench/bench_charlm.py --threads 1
    nice -n 5 python bench/bench_charlm.py --threads 1 --model transformer-tiny --train-limit 256 \
        --test-limit 64 --epochs 2 --batch-size 32 --n-examples 64 --grid 3 --seeds 2 \
        --preset-epochs 2 --preset-snapshots 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from signgeom.config import load_config_files
from signgeom.estimate import smoothness
from signgeom.estimate.estimate_settings import SmoothnessSettings
from signgeom.tasks.charlm.task import CharLMTask
from signgeom.training.run_settings import TrainSettings
from signgeom.training.train import train_run

REPO = Path(__file__).resolve().parents[1]
PROSE = REPO / "data/pydoc-prose/pydoc-prose.txt"
# The CPU preset's numerics (strict fp32, deterministic, NCHW); the values below are the bench's.
CPU_CONFIG = load_config_files(REPO / "config.yaml", REPO / "presets/quick.yaml")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="transformer-cpu")
    p.add_argument(
        "--train-limit", type=int, default=None, help="training sequences (default: all)"
    )
    p.add_argument("--test-limit", type=int, default=256, help="validation sequences")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--n-examples", type=int, default=256, help="estimation sequences")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--optimizers", type=int, default=3)
    p.add_argument("--grid", type=int, default=5, help="step sizes per optimizer")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--preset-epochs", type=int, default=20)
    p.add_argument("--preset-snapshots", type=int, default=6)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        settings = TrainSettings.from_config(
            CPU_CONFIG, model=args.model, optimizer="sgd", lr=0.3, seed=0, epochs=args.epochs,
            batch_size=args.batch_size, train_limit=args.train_limit,
            test_limit=args.test_limit, device="cpu", snapshot_stride=1, train_eval_every=1,
        )  # fmt: skip
        t0 = time.perf_counter()
        train_run(settings, batches_dir=PROSE, out_dir=run)
        run_seconds = time.perf_counter() - t0
        metrics = pd.read_csv(run / "metrics.csv")
        steps = Path(tmp) / "steps.csv"
        steps.write_text(f"model,optimizer,lr\n{args.model},sgd,0.3\n{args.model},signsgd,0.003\n")
        est = SmoothnessSettings.from_config(
            CPU_CONFIG, model=args.model, trajectory_optimizer="sgd", n_examples=args.n_examples,
            chunk_size=args.n_examples, device="cpu", precision="fp32",
        )  # fmt: skip
        t0 = time.perf_counter()
        rows = smoothness.estimate_run(
            est, run_dir=run, data_dir=PROSE, step_sizes=steps, out=Path(tmp) / "r.csv"
        )
        est_seconds = (time.perf_counter() - t0) / len(rows)
    epoch_s = float(metrics.epoch_seconds[1:].median())
    n_train = CharLMTask().load(PROSE, args.model, "cpu", args.train_limit, 0).train_x.shape[0]
    steps_per_epoch = -(-n_train // args.batch_size)
    runs = args.optimizers * (args.grid + args.seeds)
    preset_s = runs * args.preset_epochs * epoch_s
    preset_s += args.optimizers * args.seeds * args.preset_snapshots * est_seconds
    print(f"model {args.model}, {args.threads} thread(s), torch {torch.__version__}")
    print(
        f"run: {args.epochs} epochs of {n_train} sequences, batch {args.batch_size} "
        f"({steps_per_epoch} steps/epoch), test {args.test_limit}: {run_seconds:.1f} s in all"
    )
    print(
        f"epoch (steps + evaluation), median: {epoch_s:.2f} s = "
        f"{epoch_s / steps_per_epoch * 1e3:.1f} ms/step"
    )
    print(f"R_hat estimate on {args.n_examples} sequences: {est_seconds:.2f} s per snapshot")
    print(
        f"preset of {runs} runs x {args.preset_epochs} epochs + "
        f"{args.optimizers * args.seeds * args.preset_snapshots} estimates: "
        f"{preset_s:.0f} s on one core, {preset_s / 2:.0f} s as 2 parallel jobs (job start-up "
        "and the workflow's own stages not counted)"
    )


if __name__ == "__main__":
    main()
