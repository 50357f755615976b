"""Cost of one Hessian-premises estimate (``signgeom.estimate.hessian``) in training epochs.

For each setting and model: one training epoch (``signgeom``'s ``train_epoch``, after one
warm-up epoch) and one ``estimate_hessian`` at the setting's ``cifar.hessian`` values on the
untrained model (Lanczos restarts vary along training: the HVP count is printed). Settings:

- ``quick``: presets/quick.yaml (1,000 training images, batch 100, its tiny Hessian settings);
- ``subset``: all 5,170 images of the bundled subset, batch 250, config.yaml's Hessian
  defaults (``n_examples`` 1000 in chunks of ``cifar.smoothness.chunk_size``).

The last column extrapolates to paper scale (50,000 training images per epoch, batch 1000):
``estimate / (epoch seconds * 50000 / images here)``.

    python bench/bench_hessian.py [--settings quick subset] [--models cnn resnet20] [--device cpu]
        [--layouts nchw nhwc]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from signgeom.config import load_config_files
from signgeom.estimate.estimate_settings import HessianMethod
from signgeom.estimate.fixed_objective import make_chunks
from signgeom.estimate.hessian import estimate_hessian
from signgeom.tasks.cifar.data import load_cifar10
from signgeom.tasks.cifar.models import build_model
from signgeom.training.optimizers import build_optimizer
from signgeom.training.train import train_epoch
from signgeom.workflow import REPO

PAPER_TRAIN_IMAGES = 50_000
SETTING_NAMES = ("quick", "subset")
LAYOUTS = ("nchw", "nhwc")


def setting(name: str) -> tuple[int, int, dict, dict]:
    """(training images, batch size, cifar.hessian, cifar.smoothness) of a setting."""
    cfg = load_config_files(REPO / "config.yaml")
    if name == "quick":
        cfg = load_config_files(REPO / "config.yaml", REPO / "presets/quick.yaml")
        return (
            cfg["cifar"]["data"]["train_limit"],
            cfg["cifar"]["batch_size"],
            *(cfg["cifar"][k] for k in ("hessian", "smoothness")),
        )
    return 5170, 250, cfg["cifar"]["hessian"], cfg["cifar"]["smoothness"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def epoch_seconds(model_name: str, x, y, batch: int) -> float:
    torch.manual_seed(0)
    net = build_model(model_name).to(x.device)
    opt = build_optimizer("sgd", net.parameters(), lr=0.01)
    train_epoch(net, opt, x, y, batch, shuffle_seed=0)  # warm-up
    sync(x.device)
    start = time.perf_counter()
    train_epoch(net, opt, x, y, batch, shuffle_seed=1)
    sync(x.device)
    return time.perf_counter() - start


def estimate(
    model_name: str, x, y, hess: dict, smooth: dict, channels_last: bool = False
) -> tuple[float, int]:
    """(seconds, HVPs) of one Hessian estimate on the untrained model, NCHW or NHWC."""
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = build_model(model_name).to(x.device, memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    chunks = make_chunks(x, y, hess["n_examples"], smooth["chunk_size"])
    names = {f.name for f in HessianMethod.fields()}
    settings = HessianMethod(**{k: v for k, v in hess.items() if k in names})
    sync(x.device)
    start = time.perf_counter()
    est = estimate_hessian(net, nn.CrossEntropyLoss(), chunks, settings, smooth["bn_mode"])
    sync(x.device)
    return time.perf_counter() - start, est.row["n_hvp"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=SETTING_NAMES, default=SETTING_NAMES)
    parser.add_argument("--models", nargs="+", default=["cnn", "resnet20"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=str(REPO / "data/cifar10-subset/cifar-10-batches-py"))
    parser.add_argument(
        "--layouts", nargs="+", choices=LAYOUTS, default=["nchw"],
        help="estimate layouts (cifar.smoothness.channels_last false / true), side by side",
    )  # fmt: skip
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device {device}, torch threads {torch.get_num_threads()}")
    print(
        f"{'setting':<7} {'model':<9} {'layout':<6} {'images':>6} {'batch':>5} {'epoch [s]':>9} "
        f"{'estimate [s]':>12} {'HVPs':>5} {'s/HVP':>6} {'epochs here':>11} {'epochs at 50k':>13}"
    )
    for name in args.settings:
        n_train, batch, hess, smooth = setting(name)
        data = load_cifar10(args.data_dir, device=device, train_limit=n_train, test_limit=1)
        x, y = data.train_x, data.train_y
        for model_name in args.models:
            ep = epoch_seconds(model_name, x, y, batch)
            for layout in args.layouts:
                est, hvps = estimate(model_name, x, y, hess, smooth, layout == "nhwc")
                paper = est / (ep * PAPER_TRAIN_IMAGES / len(x))
                print(
                    f"{name:<7} {model_name:<9} {layout:<6} {len(x):>6} {batch:>5} {ep:>9.2f}"
                    f" {est:>12.2f} {hvps:>5} {est / hvps:>6.3f} {est / ep:>10.2f}x"
                    f" {paper:>12.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
