"""Cost of training in rotated coordinates: one training step (forward and backward, then the
optimizer step) with the plain optimizer and with it in rotated coordinates
(signgeom.training.rotation), side by side, on a random CIFAR-shaped batch.

The plain and rotated optimizers act on the same network in alternation (ABAB...), so that load
on a shared machine hits both alike. Reported: medians of the forward-backward pass and of each
optimizer step, and the rotation's extra cost (rotated minus plain optimizer step) as a fraction
of the plain training step, in the process's CPU time (the default; steadier on a loaded
machine, but only with one thread: waiting OpenMP threads spin and count) or wall-clock time.

    python bench/bench_rotation.py                       # CPU, 1 thread, CNN and ResNet20, k = 64
    python bench/bench_rotation.py --device cuda --clock wall --batch-size 1000
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from signgeom.tasks.cifar.models import build_model
from signgeom.training.rotation import build_rotated_optimizer


def timer(clock: str, device: torch.device) -> Callable[[], float]:
    """Seconds now: wall clock (synchronising CUDA first) or this process's CPU time."""
    if clock == "cpu":
        return time.process_time

    def wall() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()

    return wall


def bench_model(model: str, args: argparse.Namespace) -> dict[str, float]:
    """Median seconds of the forward-backward pass and of the plain and rotated steps."""
    device = torch.device(args.device)
    torch.manual_seed(0)
    net = build_model(model).to(device)
    named = list(net.named_parameters())
    opts = {
        "plain": build_rotated_optimizer(args.optimizer, named, 1e-4, 0.9, 0.0, args.block_size, 0),
        "rotated": build_rotated_optimizer(
            args.optimizer, named, 1e-4, 0.9, args.theta, args.block_size, 0
        ),
    }
    x = torch.randn(args.batch_size, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (args.batch_size,), device=device)
    now = timer(args.clock, device)
    times: dict[str, list[float]] = {"forward_backward": [], "plain": [], "rotated": []}
    for i in range(args.warmup + args.steps):
        for name, opt in opts.items():
            opt.zero_grad(set_to_none=True)
            t0 = now()
            F.cross_entropy(net(x), y).backward()
            t1 = now()
            opt.step()
            t2 = now()
            if i >= args.warmup:
                times["forward_backward"].append(t1 - t0)
                times[name].append(t2 - t1)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["cnn", "resnet20"])
    p.add_argument("--optimizer", default="signsgd")
    p.add_argument("--theta", type=float, default=1.0)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--steps", type=int, default=8, help="timed steps per optimizer")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"{args.device}, torch {torch.__version__}, threads {args.threads}, batch "
        f"{args.batch_size}, {args.optimizer}, theta {args.theta}, block size {args.block_size}; "
        f"{args.clock} time, median of {args.steps} steps per optimizer, alternating"
    )
    cols = ["fwd+bwd [ms]", "plain step [ms]", "rotated step [ms]", "extra / training step"]
    print(f"{'model':10s} " + " ".join(f"{c:>21s}" for c in cols))
    for model in args.models:
        t = bench_model(model, args)
        extra = (t["rotated"] - t["plain"]) / (t["forward_backward"] + t["plain"])
        values = [1e3 * t["forward_backward"], 1e3 * t["plain"], 1e3 * t["rotated"]]
        print(f"{model:10s} " + " ".join(f"{v:21.1f}" for v in values) + f" {extra:21.1%}")


if __name__ == "__main__":
    main()
