"""Cost of training in rotated coordinates: one training step (forward, backward, optimizer step)
with the plain optimizer and with it in rotated coordinates (signgeom.cifar.rotation), side by
side, on random CIFAR-shaped batches.

Steps alternate between the two (ABAB...) so that load on a shared machine hits both alike; the
medians are reported, and the overhead as a fraction of the plain step.

    python bench/bench_rotation.py                       # CPU, CNN and ResNet20, k = 64
    python bench/bench_rotation.py --device cuda --batch-size 1000
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from signgeom.cifar.models import build_model
from signgeom.cifar.rotation import build_rotated_optimizer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_times(
    model: str, optimizer: str, theta: float, block_size: int, args: argparse.Namespace
) -> list[float]:
    """Seconds of each training step after ``args.warmup`` warm-up steps."""
    device = torch.device(args.device)
    torch.manual_seed(0)
    net = build_model(model).to(device)
    opt = build_rotated_optimizer(
        optimizer, list(net.named_parameters()), 1e-4, 0.9, theta, block_size, seed=0
    )
    x = torch.randn(args.batch_size, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (args.batch_size,), device=device)
    times = []
    for i in range(args.warmup + args.steps):
        _sync(device)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()
        _sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["cnn", "resnet20"])
    p.add_argument("--optimizer", default="signsgd")
    p.add_argument("--theta", type=float, default=1.0)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--steps", type=int, default=5, help="timed steps per round")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="plain/rotated alternations")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"{args.device}, torch {torch.__version__}, threads {args.threads}, batch "
        f"{args.batch_size}, {args.optimizer}, theta {args.theta}, block size {args.block_size}; "
        f"median of {args.rounds} x {args.steps} steps each, alternating"
    )
    print(f"{'model':10s} {'plain [ms]':>11s} {'rotated [ms]':>13s} {'overhead':>9s}")
    for model in args.models:
        plain, rotated = [], []
        for _ in range(args.rounds):
            plain += step_times(model, args.optimizer, 0.0, args.block_size, args)
            rotated += step_times(model, args.optimizer, args.theta, args.block_size, args)
        a, b = statistics.median(plain), statistics.median(rotated)
        print(f"{model:10s} {1e3 * a:11.1f} {1e3 * b:13.1f} {b / a - 1:9.1%}")


if __name__ == "__main__":
    main()
