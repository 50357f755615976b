"""Sequential against batched (vmapped) probe gradients of one smoothness estimate, side by side.

For each model and precision: the wall time of one estimate (``1 + 2 len(gammas)`` gradient
passes over ``--images`` bundled training images in ``--chunk``-image chunks, config.yaml's
gammas, reduction and bn_mode) with the probe passes one after another and in one vmapped pass
(``signgeom.estimate.batched_grad``), alternated in ABBA order after one warm-up each, best of
``--repeats``; and the largest relative difference of L2_hat, Linf_hat and R_hat between them.
The CPU load average is printed before and after: on a shared machine the numbers are
indicative, the ratio of the two paths (measured alternately) more than the times.

    nice -n 15 python bench/bench_smoothness_batched.py [--images 256] [--chunk 128] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

from signgeom.config import load_config_files
from signgeom.estimate.fixed_objective import make_chunks
from signgeom.estimate.smoothness import estimate_smoothness
from signgeom.tasks.cifar.data import load_cifar10
from signgeom.tasks.cifar.models import build_model
from signgeom.training.device import configure_numerics
from signgeom.workflow import REPO

MODELS = ("cnn", "resnet20")
DTYPES = {"fp32": torch.float32, "fp64": torch.float64}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed_estimate(net, chunks, kw: dict, batched: bool):
    """(seconds, estimate) of one estimate."""
    device = chunks[0][0].device
    sync(device)
    start = time.perf_counter()
    est = estimate_smoothness(net, F.cross_entropy, chunks, **kw, batched=batched)
    sync(device)
    return time.perf_counter() - start, est


def compare(model: str, precision: str, x, y, args, smooth: dict) -> str:
    """One table row: best seconds of each path, their ratio, largest relative difference."""
    torch.manual_seed(0)
    net = build_model(model).to(x.device, DTYPES[precision])
    chunks = make_chunks(x.to(DTYPES[precision]), y, args.images, args.chunk)
    kw = dict(alpha_gd=0.01, alpha_sign=1e-4, gammas=smooth["gammas"])
    kw.update(reduction=smooth["reduction"], bn_mode=smooth["bn_mode"])
    for batched in (False, True):  # warm-up (vmap traces, allocator)
        estimate_smoothness(net, F.cross_entropy, chunks[:1], **kw, batched=batched)
    times: dict[bool, list[float]] = {False: [], True: []}
    ests = {}
    for r in range(args.repeats):
        for batched in (False, True) if r % 2 == 0 else (True, False):
            seconds, ests[batched] = timed_estimate(net, chunks, kw, batched)
            times[batched].append(seconds)
    seq, bat = min(times[False]), min(times[True])
    diff = max(
        abs(getattr(ests[True], k) - getattr(ests[False], k)) / abs(getattr(ests[False], k))
        for k in ("L2_hat", "Linf_hat", "R_hat")
    )
    return (
        f"{model:9s} {precision:5s} {seq:10.2f} {bat:10.2f} {seq / bat:8.2f}x {diff:12.2e}"
        f"   (all: seq {', '.join(f'{t:.2f}' for t in times[False])};"
        f" batched {', '.join(f'{t:.2f}' for t in times[True])})"
    )


def header(args: argparse.Namespace, smooth: dict, device: torch.device) -> str:
    """The settings, the load average (flagged when the CPU is shared) and the column names."""
    load = os.getloadavg()
    shared = load[0] > 0.5 * (os.cpu_count() or 1)
    return "\n".join(
        [
            f"torch {torch.__version__}, device {device}, {args.threads} threads, "
            f"{os.cpu_count()} CPUs; {args.images} images in chunks of {args.chunk}; gammas "
            f"{smooth['gammas']}, bn_mode {smooth['bn_mode']}; best of {args.repeats}, ABBA",
            f"load average before: {' '.join(f'{v:.1f}' for v in load)}"
            + ("  (shared CPU: indicative numbers)" if shared else ""),
            f"{'model':9s} {'prec':5s} {'seq [s]':>10s} {'batched [s]':>10s} {'seq/bat':>9s}"
            f" {'max rel diff':>12s}",
        ]
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--chunk", type=int, default=128)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--device", default="cpu")
    p.add_argument("--precisions", nargs="+", default=["fp32", "fp64"], choices=sorted(DTYPES))
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--data-dir", default=str(REPO / "data/cifar10-subset/cifar-10-batches-py"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    configure_numerics("fp32", True)
    smooth = load_config_files(REPO / "config.yaml")["cifar"]["smoothness"]
    device = torch.device(args.device)
    data = load_cifar10(args.data_dir, device=device, train_limit=args.images, test_limit=1)
    print(header(args, smooth, device))
    for model in args.models:
        for precision in args.precisions:
            print(compare(model, precision, data.train_x, data.train_y, args, smooth), flush=True)
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
