"""Estimate layouts on the CPU: time and R_hat of one estimate per layout and pass size,
against an fp64 reference, on trained snapshots.

An estimate's layout (``cifar.smoothness.channels_last``) and its images per gradient pass
(``cifar.smoothness.micro_batch``) change how the same fixed objective is summed, not the
objective: each is a speed setting if its R_hat stays as close to the fp64 value as the
configuration it replaces. This bench trains each model along SGD at the subset reference's
selected step size (``results/reference/subset/step_sizes.csv``; strict fp32, NCHW, batch 128,
momentum 0.9) for ``--epochs`` epochs on the first ``--images`` bundled training images and
estimates R_hat at epoch 0 and at the last epoch on the same images (one chunk; probe lengths
the selected SGD and signSGD step sizes, ``probe_step: raw``):

- ``fp64``: NCHW, the whole chunk per pass, float64 (the reference);
- the fp32 paths: NCHW or NHWC, the whole chunk or ``--micro-batch`` images per pass (where
  batch norm with batch statistics couples the chunk, ResNet20, only whole chunks).

It prints, per snapshot and path, the seconds of one estimate (best of ``--repeats`` after a
warm-up), R_hat, its relative distance from fp64 and whether two repeats gave the same bits.

    python bench/bench_estimate_layout.py                       # both models, 1 thread
    for i in 1 2; do python bench/bench_estimate_layout.py --models cnn & done   # two jobs

Run two at once to see the presets' layout (one job per core): both cores then compete for
cache and memory bandwidth, which is where small passes and NHWC gain most.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from signgeom.estimate.fixed_objective import (
    DTYPES,
    MICRO_BATCH_BY_DEVICE,
    compiled,
    couples_examples,
    make_chunks,
)
from signgeom.estimate.smoothness import estimate_smoothness, step_sizes_from_csv
from signgeom.tasks.cifar.data import load_cifar10
from signgeom.tasks.cifar.models import build_model
from signgeom.training.device import configure_numerics
from signgeom.training.optimizers import build_optimizer
from signgeom.training.train import train_epoch
from signgeom.workflow import REPO

MODELS = ("cnn", "resnet20")
STEP_SIZES = REPO / "results/reference/subset/step_sizes.csv"
BATCH = 128
BASE = ("fp64 NCHW, whole chunk", "fp32 NCHW, whole chunk")  # the reference and today's path


@dataclass(frozen=True)
class Path:
    """One way of computing the estimate: dtype, layout and images per gradient pass (None:
    the whole chunk)."""

    precision: str
    channels_last: bool
    micro: int | None
    compiled: bool = False  # the network through torch.compile (inductor's CPU backend)

    @property
    def name(self) -> str:
        layout = "NHWC" if self.channels_last else "NCHW"
        size = f"passes of {self.micro}" if self.micro else "whole chunk"
        return f"{self.precision} {layout}{' compiled' if self.compiled else ''}, {size}"


def paths(micro_batches: list[int], compiled: bool = False) -> list[Path]:
    """fp64 NCHW whole chunks (the reference), fp32 NCHW whole chunks (today's CPU path),
    fp32 NCHW in passes of each size, fp32 NHWC whole and in passes of the first size; with
    ``compiled`` also the compiled fp32 NCHW network, whole chunks."""
    return [
        Path("fp64", False, None),
        Path("fp32", False, None),
        *(Path("fp32", False, m) for m in micro_batches),
        Path("fp32", True, None),
        Path("fp32", True, micro_batches[0]),
        *([Path("fp32", False, None, compiled=True)] if compiled else []),
    ]


def snapshots(model_name: str, x, y, lr: float, epochs: int) -> dict[int, dict]:
    """State dicts at epoch 0 and ``epochs`` of an SGD run (strict fp32, NCHW, seed 0)."""
    configure_numerics("fp32", True)
    torch.manual_seed(0)
    net = build_model(model_name)
    opt = build_optimizer("sgd", net.parameters(), lr=lr)
    states = {0: {k: v.clone() for k, v in net.state_dict().items()}}
    for epoch in range(epochs):
        train_epoch(net, opt, x, y, BATCH, epoch)
    states[epochs] = {k: v.clone() for k, v in net.state_dict().items()}
    return states


def estimate(model_name: str, state: dict, x, y, path: Path, steps: tuple, repeats: int):
    """(best seconds, R_hat, equal bits over repeats) of one estimate along ``path``: the best
    of ``repeats`` after a warm-up (fp64, the reference: one estimate, timed, no repeat)."""
    configure_numerics("fp32", True)
    dtype = DTYPES[path.precision]
    fmt = torch.channels_last if path.channels_last else torch.contiguous_format
    net = build_model(model_name)
    net.load_state_dict(state)
    net = net.to(dtype=dtype, memory_format=fmt)
    images = x.to(dtype).contiguous(memory_format=fmt)
    if path.compiled:
        net = compiled(net)  # the pipeline's compiled path; compiled on the warm-up, not timed
    size = path.micro or len(x)
    repeats = 0 if path.precision == "fp64" else repeats
    chunks = make_chunks(images, y, None, size)
    kw = dict(alpha_gd=steps[0], alpha_sign=steps[1], gammas=(0.5, 1.0))
    best, values = float("inf"), []
    for rep in range(repeats + 1):
        start = time.perf_counter()
        values.append(estimate_smoothness(net, F.cross_entropy, chunks, **kw).R_hat)
        if rep > 0 or repeats == 0:
            best = min(best, time.perf_counter() - start)
    return best, values[-1], len(set(values)) == 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--images", type=int, default=1034, help="training and estimation set")
    parser.add_argument("--epochs", type=int, default=5, help="SGD epochs of the snapshot")
    parser.add_argument(
        "--micro-batch", type=int, nargs="+", default=[MICRO_BATCH_BY_DEVICE["cpu"]],
        help="images per pass of the micro-batched paths (NHWC: the first)",
    )  # fmt: skip
    parser.add_argument("--compiled", action="store_true", help="add the compiled network")
    parser.add_argument("--paths", nargs="+", help="only these paths (names as printed)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data_dir = REPO / "data/cifar10-subset/cifar-10-batches-py"
    data = load_cifar10(data_dir, device="cpu", train_limit=args.images, test_limit=1)
    x, y = data.train_x, data.train_y
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {len(x)} images (one chunk),"
        f" passes of {args.micro_batch}, SGD snapshots at epochs 0 and {args.epochs},"
        f" best of {args.repeats} estimates after a warm-up"
    )
    header = f"{'model':<9} {'epoch':>5}  {'path':<33} {'estimate [s]':>12} {'R_hat':>12}"
    print(header + f" {'|rel - fp64|':>12} {'same bits':>9} {'vs today':>9}")
    for model_name in args.models:
        steps = step_sizes_from_csv(STEP_SIZES, model_name)  # (SGD's, signSGD's)
        coupled = couples_examples(build_model(model_name), "batch_stats")
        for epoch, state in snapshots(model_name, x, y, steps[0], args.epochs).items():
            results = {}
            for path in paths(args.micro_batch, args.compiled):
                if path.micro and coupled:
                    continue  # batch norm's batch statistics: the chunk is the objective
                if args.paths and path.name not in {*args.paths, *BASE}:
                    continue
                results[path.name] = estimate(model_name, state, x, y, path, steps, args.repeats)
            reference, today = (results[name] for name in BASE)
            for name, (sec, r_hat, same) in results.items():
                print(
                    f"{model_name:<9} {epoch:>5}  {name:<33} {sec:>12.2f} {r_hat:>12.7f}"
                    f" {abs(r_hat / reference[1] - 1):>12.1e} {'yes' if same else 'NO':>9}"
                    f" {today[0] / sec:>8.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
