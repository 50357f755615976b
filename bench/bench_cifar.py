"""Benchmark of the Figure 3 training step and smoothness estimate (prints a table).

1. Training throughput (images/s) at batch 1000, for both models: ``signgeom``'s training
   epoch (on-device tensors, index slicing, our optimizers) against a plain reference loop
   (``torch.utils.data.DataLoader`` over a ``TensorDataset``, ``torch.optim.SGD`` with
   momentum 0.9). Both use the same data and model; after one warm-up epoch each, their epochs
   alternate and the best of ``--repeats`` counts.
2. Cost of one smoothness estimate (``1 + 2 len(gammas)`` full-batch gradient passes over the
   estimation subset) in units of one training epoch, measured here and extrapolated to the
   paper-scale config (``cifar.smoothness.n_examples`` of 50,000 training images).

    python bench/bench_cifar.py [--train-images 4000] [--repeats 4] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import DataLoader, TensorDataset

from signgeom.cifar.data import load_cifar10
from signgeom.cifar.models import build_model
from signgeom.cifar.optimizers import build_optimizer
from signgeom.cifar.smoothness import estimate_smoothness, make_chunks
from signgeom.cifar.train import train_epoch
from signgeom.workflow import REPO

BATCH = 1000
PAPER_TRAIN_IMAGES = 50_000


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def ours(model_name: str, x, y):
    """One epoch of signgeom's training step (returns a callable running epoch ``e``)."""
    torch.manual_seed(0)
    net = build_model(model_name).to(x.device)
    opt = build_optimizer("sgd", net.parameters(), lr=0.01)
    return lambda epoch: train_epoch(net, opt, x, y, BATCH, shuffle_seed=epoch)


def reference(model_name: str, x, y):
    """One epoch of the plain loop: DataLoader over a TensorDataset, torch.optim.SGD."""
    torch.manual_seed(0)
    net = build_model(model_name).to(x.device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True)

    def epoch(_: int) -> None:
        net.train()
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(net(xb), yb).backward()
            opt.step()

    return epoch


def throughputs(model_name: str, x, y, repeats: int) -> tuple[float, float]:
    """Images/s (best epoch) of ours and of the reference: both warmed up by one epoch, then
    timed in alternation, in ABBA order (whichever runs first in a round was measured slower
    here, whatever it was), so that neither side is favoured."""
    runners = {"ours": ours(model_name, x, y), "reference": reference(model_name, x, y)}
    best = dict.fromkeys(runners, float("inf"))
    for epoch in range(repeats + 1):
        order = list(runners.items())
        for name, run in order if epoch % 2 == 0 else order[::-1]:
            sync(x.device)
            start = time.perf_counter()
            run(epoch)
            sync(x.device)
            if epoch > 0:  # epoch 0 is the warm-up
                best[name] = min(best[name], time.perf_counter() - start)
    return len(x) / best["ours"], len(x) / best["reference"]


def smoothness_seconds(model_name: str, x, y, smooth: dict, n_examples: int) -> float:
    torch.manual_seed(0)
    net = build_model(model_name).to(x.device)
    chunks = make_chunks(x, y, n_examples, smooth["chunk_size"])
    sync(x.device)
    start = time.perf_counter()
    estimate_smoothness(
        net,
        F.cross_entropy,
        chunks,
        alpha_gd=0.01,
        alpha_sign=1e-4,
        gammas=smooth["gammas"],
        reduction=smooth["reduction"],
        bn_mode=smooth["bn_mode"],
    )
    sync(x.device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-images", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=str(REPO / "data/cifar10-subset/cifar-10-batches-py"))
    args = parser.parse_args()
    device = torch.device(args.device)
    data = load_cifar10(args.data_dir, device=device, train_limit=args.train_images, test_limit=1)
    x, y = data.train_x, data.train_y
    smooth = yaml.safe_load((REPO / "config.yaml").read_text())["cifar"]["smoothness"]
    n_est = min(smooth["n_examples"], len(x))
    passes = 1 + 2 * len(smooth["gammas"])
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, {len(x)} training images,"
        f" batch {BATCH}, best of {args.repeats} epochs"
    )
    print(
        f"{'model':<9} {'ours [img/s]':>13} {'DataLoader [img/s]':>19} {'ratio':>6} "
        f"{'estimate/epoch here':>20} {'paper-scale estimate/epoch':>27}"
    )
    for model_name in ("cnn", "resnet20"):
        ours_rate, ref_rate = throughputs(model_name, x, y, args.repeats)
        est = smoothness_seconds(model_name, x, y, smooth, n_est)
        epoch_here = len(x) / ours_rate
        # Paper scale: the estimate covers n_examples images, an epoch 50,000; cost per image
        # of an estimate's gradient pass is the measured est / (passes * n_est).
        per_image_pass = est / (passes * n_est)
        paper_ratio = (
            per_image_pass * passes * smooth["n_examples"] / (PAPER_TRAIN_IMAGES / ours_rate)
        )
        print(
            f"{model_name:<9} {ours_rate:>13.0f} {ref_rate:>19.0f} {ours_rate / ref_rate:>5.2f}x"
            f" {est / epoch_here:>19.2f}x {paper_ratio:>26.2f}x"
        )
    print(
        f"(estimate: {passes} gradient passes over {n_est} images here, "
        f"{smooth['n_examples']} at paper scale; gammas {smooth['gammas']})"
    )


if __name__ == "__main__":
    main()
