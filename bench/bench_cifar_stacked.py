"""Benchmark: K trajectories stacked in one process against K separate trajectories.

For both models at ``--batch`` (128), for each K in ``--members``, the aggregate training
images/s (K x images per epoch / epoch time) of

- ``sequential``: K of signgeom's training epochs one after the other in one process;
- ``stacked``: ``signgeom.training.stacked.StackedTrainer`` with K members (own lr and seed);
- ``processes``: K processes training at once, each with ``cores // K`` threads (at least 1),
  started together after each one's warm-up epoch (not with ``--no-processes``);

beside the plain loop (``DataLoader``, ``torch.optim.SGD``, one trajectory) as the reference.
In-process runners alternate in ABBA order after one warm-up epoch each; best of ``--repeats``.
The load average is printed: on a shared CPU the numbers are indicative.

    nice -n 15 python bench/bench_cifar_stacked.py --train-images 256 --members 1 2 4
    python bench/bench_cifar_stacked.py --device cuda --train-images 10000 --members 1 2 4 8
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from bench_cifar import MODELS, best_rates, load_images, reference, sync

from signgeom.config import load_config_files
from signgeom.tasks.cifar.models import build_model
from signgeom.training.device import configure_numerics
from signgeom.training.optimizers import build_optimizer
from signgeom.training.run_settings import TrainSettings
from signgeom.training.stacked import StackedTrainer, stacked_settings
from signgeom.training.train import epoch_seed, train_epoch
from signgeom.workflow import REPO

LR = 0.01
# The CPU preset's numerics (strict fp32, deterministic, NCHW); the bench sets the rest.
CPU_CONFIG = load_config_files(REPO / "config.yaml", REPO / "presets/quick.yaml")


def members(model: str, k: int, args) -> list[TrainSettings]:
    """K members of one configuration: seeds 0..K-1, step sizes LR, LR/2, LR/4, ..."""
    base = TrainSettings.from_config(
        CPU_CONFIG, model=model, optimizer=args.optimizer, lr=LR, seed=0, epochs=1,
        batch_size=args.batch,
    )  # fmt: skip
    return stacked_settings(base, [LR / 2**i for i in range(k)], list(range(k)))


def separate(s: TrainSettings, x, y):
    """One trajectory as ``train.train_run`` trains it: a callable running epoch ``e``."""
    torch.manual_seed(s.seed)
    net = build_model(s.model).to(x.device)
    opt = build_optimizer(s.optimizer, net.parameters(), lr=s.lr, momentum=s.momentum)
    return lambda e: train_epoch(net, opt, x, y, s.batch_size, epoch_seed(s.seed, e))


def sequential(settings: list[TrainSettings], x, y):
    runs = [separate(s, x, y) for s in settings]

    def epoch(e: int) -> None:
        for run in runs:
            run(e)

    return epoch


def stacked(settings: list[TrainSettings], x, y):
    trainer = StackedTrainer(settings, x.device)
    return lambda e: trainer.train_epoch(x, y, e)


def worker(args) -> None:
    """One of K processes: warm up, report ready, wait for go, time ``--repeats`` epochs."""
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    configure_numerics("fp32", True)
    x, y = load_images(args.data_dir, args.train_images, device)
    s = members(args.worker, args.member + 1, args)[args.member]
    run = separate(s, x, y)
    run(0)
    sync(device)
    Path(args.sync_dir, f"ready{args.member}").touch()
    while not Path(args.sync_dir, "go").exists():
        time.sleep(0.01)
    start = time.perf_counter()
    for e in range(1, args.repeats + 1):
        run(e)
    sync(device)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def processes_rate(model: str, k: int, args) -> float:
    """Aggregate images/s of K training processes started together."""
    threads = max(1, (os.cpu_count() or 1) // k)
    with tempfile.TemporaryDirectory() as sync_dir:
        cmd = [sys.executable, __file__, "--worker", model, "--sync-dir", sync_dir]
        cmd += ["--threads", str(threads), "--train-images", str(args.train_images)]
        cmd += ["--batch", str(args.batch), "--optimizer", args.optimizer]
        cmd += ["--repeats", str(args.repeats), "--device", args.device]
        cmd += ["--data-dir", args.data_dir]
        procs = [
            subprocess.Popen([*cmd, "--member", str(i)], stdout=subprocess.PIPE, text=True)
            for i in range(k)
        ]
        while not all(Path(sync_dir, f"ready{i}").exists() for i in range(k)):
            if any(p.poll() not in (None, 0) for p in procs):
                raise RuntimeError("a worker failed")
            time.sleep(0.05)
        Path(sync_dir, "go").touch()
        seconds = [
            json.loads(p.communicate()[0].strip().splitlines()[-1])["seconds"] for p in procs
        ]
    return k * args.repeats * args.train_images / max(seconds)


def table(model: str, x, y, device, args) -> dict[int, dict[str, float]]:
    """Aggregate images/s per K and way, printed row by row; the plain loop once (K = 1)."""
    n = len(x)
    plain = best_rates({"plain": reference(model, x, y, args.batch)}, n, device, args.repeats)
    print(
        f"\n{model} (aggregate training images/s; plain loop, one trajectory: {plain['plain']:.0f})"
    )
    ways = ["sequential", "stacked"] + ([] if args.no_processes else ["processes"])
    print(f"{'K':>3}" + "".join(f"{w:>12}" for w in ways) + f"{'stacked/best other':>20}")
    rows = {}
    for k in args.members:
        settings = members(model, k, args)
        runners = {"sequential": sequential(settings, x, y), "stacked": stacked(settings, x, y)}
        rates = best_rates(runners, k * n, device, args.repeats)
        if not args.no_processes:
            rates["processes"] = processes_rate(model, k, args)
        rows[k] = rates
        others = max(v for w, v in rates.items() if w != "stacked")
        cells = "".join(f"{rates[w]:>12.0f}" for w in ways)
        print(f"{k:>3}{cells}{rates['stacked'] / others:>19.2f}x", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-images", type=int, default=256, help="images per member")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--members", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-processes", action="store_true", help="skip the K-process column")
    parser.add_argument("--data-dir", default=str(REPO / "data/cifar10-subset/cifar-10-batches-py"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--member", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sync-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    device = torch.device(args.device)
    configure_numerics("fp32", True)
    x, y = load_images(args.data_dir, args.train_images, device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(
        f"device {device} ({name}), torch {torch.__version__}, threads"
        f" {torch.get_num_threads()} of {os.cpu_count()} cores, {len(x)} images per member and"
        f" epoch, batch {args.batch}, optimizer {args.optimizer}, best of {args.repeats} epochs"
    )
    load = os.getloadavg()
    note = ""
    if load[0] > 0.5 * (os.cpu_count() or 1):
        note = "  (CPU shared with other processes: indicative numbers)"
    print(f"load average before: {' '.join(f'{v:.1f}' for v in load)}{note}")
    verdict = {}
    for model in MODELS:
        rows = table(model, x, y, device, args)
        verdict[model] = [
            k
            for k, r in rows.items()
            if r["stacked"] > max(v for w, v in r.items() if w != "stacked")
        ]
    print(f"\nload average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    for model, ks in verdict.items():
        where = f"K = {ks}" if ks else "no K measured"
        print(f"{model}: stacking is the fastest way here for {where}")


if __name__ == "__main__":
    main()
