"""Benchmark of the Figure 3 training step and smoothness estimate (prints tables).

CPU and GPU:
1. Training throughput (images/s) at batch 1000, both models: ``signgeom``'s training epoch
   (strict fp32, deterministic; on-device tensors, index slicing, our optimizers) against a
   plain reference loop (``DataLoader`` over a ``TensorDataset``, ``torch.optim.SGD`` with
   momentum 0.9), alternated in ABBA order after one warm-up epoch each; best of ``--repeats``.
2. One smoothness estimate (``1 + 2 len(gammas)`` full-batch gradient passes, strict fp32) in
   units of one training epoch, here and extrapolated to the paper-scale config.

CPU only (``--cpu-options``), three tables in one run:
- training images/s of the plain loop and of signgeom's epoch with each CPU option
  (channels_last, ``torch.compile`` with inductor's CPU backend, oneDNN off) per thread count
  (``--cpu-threads``: 1, the presets' one job per core, and 2) and batch (``--cpu-batch``: 128
  and 1000), both models, ABBA, best of ``--repeats``;
- one estimate in training epochs (batch ``--cpu-batch[0]``, chunks of ``--estimate-chunk``,
  the subset preset's) per path: sequential, batched, compiled model, NHWC (channels_last),
  micro-batched (``micro_batch``: passes of ``--micro-batch`` images where examples are
  independent), with its ``R_hat`` (how close each path is to fp64 on trained snapshots:
  ``bench/bench_estimate_layout.py``);
- ``presets/subset.yaml``'s Figure 3 in CPU-minutes at those rates, before and with each
  adopted option, and the 2-core wall time it cannot beat.
``--cpu-estimate`` prints the second only. The load average is printed: on a shared CPU the
numbers are indicative, not a basis for presets.

GPU only (``--device cuda``):
3. Training images/s of every numerics mode (fp32-deterministic, TF32, bf16; channels_last and
   ``torch.compile`` on/off).
4. Aggregate images/s with 1, 2, 4 and 8 training processes sharing the GPU.
5. Estimate throughput per chunk size, and the projected GPU-hours of the paper-scale Figure 3
   (config.yaml: grids, epochs, stride or schedule, estimation set) from the measured rates.

Projection only (``--projection``, no device work): the paper-scale Figure 3 from the last H100
rates committed in ``bench/results`` (training images/s, one estimate's seconds), for
config.yaml's seeds, for ``--seeds`` seeds (grid on seed 0, the selected trajectories on all)
and with the ``--schedule`` estimate epochs, side by side; beside it the estimate counts of the
schedule (``signgeom.training.schedule``) and the CPU-measured batched finite differences. The
arithmetic is ``signgeom.estimate.projection``.

    python bench/bench_cifar.py [--train-images 4000] [--repeats 4] [--device cpu]
    python bench/bench_cifar.py --device cuda --train-images 50000   # the bundled images, tiled
    python bench/bench_cifar.py --cpu-options --train-images 1034 --repeats 2   # idle machine
    python bench/bench_cifar.py --projection [--seeds 5] [--schedule '{"dense_until": 20, ...}']
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from signgeom.config import load_config_files
from signgeom.estimate.fixed_objective import (
    MICRO_BATCH_BY_DEVICE,
    couples_examples,
    fixed_mode,
    full_gradient,
    make_chunks,
    pass_size,
    trainable,
)
from signgeom.estimate.projection import CIFAR10_TRAIN, Rates, figure3_workload, project_hours
from signgeom.estimate.smoothness import estimate_smoothness
from signgeom.tasks.cifar.data import load_cifar10
from signgeom.tasks.cifar.models import build_model
from signgeom.training.device import configure_numerics
from signgeom.training.optimizers import build_optimizer
from signgeom.training.schedule import estimate_epochs
from signgeom.training.train import evaluate, train_epoch
from signgeom.workflow import REPO

BATCH = 1000
PAPER_TRAIN_IMAGES = 50_000
PAPER_TEST_IMAGES = 10_000
MODELS = ("cnn", "resnet20")
H100_TRAIN = REPO / "bench/results/bench_cifar_h100.txt"
H100_ESTIMATES = REPO / "bench/results/bench_cifar_h100_estimates.txt"
BATCHED_CPU = REPO / "bench/results/bench_smoothness_batched_cpu.txt"


@dataclass(frozen=True)
class Mode:
    name: str
    precision: str
    deterministic: bool
    channels_last: bool = False
    compile: bool = False


MODES = (
    Mode("fp32-det", "fp32", True),
    Mode("fp32-det+CL", "fp32", True, channels_last=True),
    Mode("tf32", "tf32", False),
    Mode("tf32+CL", "tf32", False, channels_last=True),
    Mode("bf16", "bf16", False),
    Mode("bf16+CL", "bf16", False, channels_last=True),
    Mode("tf32+CL+compile", "tf32", False, channels_last=True, compile=True),
    Mode("bf16+CL+compile", "bf16", False, channels_last=True, compile=True),
)
MODE_BY_NAME = {m.name: m for m in MODES}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def load_images(data_dir: str, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` bundled training images, tiled when ``n`` exceeds them (speed only)."""
    data = load_cifar10(data_dir, device=device, test_limit=1)
    reps = -(-n // data.train_x.shape[0])
    return data.train_x.repeat(reps, 1, 1, 1)[:n], data.train_y.repeat(reps)[:n]


def trainer(model_name: str, x, y, mode: Mode = MODES[0], batch: int = BATCH):
    """signgeom's training epoch in ``mode`` (returns a callable running epoch ``e``)."""
    configure_numerics(mode.precision, mode.deterministic)
    torch.manual_seed(0)
    net = build_model(model_name).to(x.device)
    if mode.channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    fwd = torch.compile(net) if mode.compile else net
    opt = build_optimizer("sgd", net.parameters(), lr=0.01)
    return lambda epoch: train_epoch(fwd, opt, x, y, batch, epoch, precision=mode.precision)


def reference(model_name: str, x, y, batch: int = BATCH):
    """One epoch of the plain loop: DataLoader over a TensorDataset, torch.optim.SGD."""
    configure_numerics("fp32", True)
    torch.manual_seed(0)
    net = build_model(model_name).to(x.device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)

    def epoch(_: int) -> None:
        net.train()
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(net(xb), yb).backward()
            opt.step()

    return epoch


def best_rates(runners: dict, n_images: int, device: torch.device, repeats: int) -> dict:
    """Images/s (best epoch) of each runner: one warm-up epoch each, then timed epochs in
    alternation, in ABBA order (whichever runs first in a round was measured slower on the
    CPU), so that no runner is favoured."""
    best = dict.fromkeys(runners, float("inf"))
    order = list(runners.items())
    for epoch in range(repeats + 1):
        for name, run in order if epoch % 2 == 0 else order[::-1]:
            sync(device)
            start = time.perf_counter()
            run(epoch)
            sync(device)
            if epoch > 0:  # epoch 0 is the warm-up
                best[name] = min(best[name], time.perf_counter() - start)
    return {name: n_images / t for name, t in best.items()}


def estimate_seconds(
    model_name: str, x, y, smooth: dict, n_examples: int, chunk: int, channels_last: bool = False
) -> float:
    """Wall time of one strict-fp32 estimate over ``n_examples`` images in ``chunk``-chunks."""
    configure_numerics("fp32", True)
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = build_model(model_name).to(x.device, memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    chunks = make_chunks(x, y, n_examples, chunk)
    kw = dict(alpha_gd=0.01, alpha_sign=1e-4, gammas=smooth["gammas"])
    kw.update(reduction=smooth["reduction"], bn_mode=smooth["bn_mode"])
    estimate_smoothness(net, F.cross_entropy, chunks[:1], **kw)  # warm-up
    sync(x.device)
    start = time.perf_counter()
    estimate_smoothness(net, F.cross_entropy, chunks, **kw)
    sync(x.device)
    return time.perf_counter() - start


def eval_rate(model_name: str, x, y, mode: Mode) -> float:
    """Images/s of the eval-mode pass (test accuracy / train-set evaluation)."""
    configure_numerics(mode.precision, mode.deterministic)
    net = build_model(model_name).to(x.device)
    if mode.channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    evaluate(net, x, y, precision=mode.precision)
    sync(x.device)
    start = time.perf_counter()
    evaluate(net, x, y, precision=mode.precision)
    sync(x.device)
    return x.shape[0] / (time.perf_counter() - start)


def worker(args: argparse.Namespace) -> None:
    """One of several processes sharing the GPU: count images trained inside the window."""
    device = torch.device(args.device)
    x, y = load_images(args.data_dir, args.train_images, device)
    run = trainer(args.worker, x, y, MODE_BY_NAME[args.mode])
    run(0)  # warm-up
    images, epoch = 0, 1
    while time.time() < args.window_start:
        run(epoch)
        epoch += 1
    sync(device)
    t0 = time.time()
    while time.time() < args.window_start + args.window:
        run(epoch)
        epoch += 1
        images += x.shape[0]
    sync(device)
    print(json.dumps({"images": images, "seconds": time.time() - t0}))


def shared_rate(model_name: str, mode: Mode, n_proc: int, args: argparse.Namespace) -> float:
    """Aggregate images/s of ``n_proc`` training processes on one GPU (same time window)."""
    start = time.time() + args.share_warmup
    cmd = [sys.executable, __file__, "--worker", model_name, "--mode", mode.name]
    cmd += ["--window-start", str(start), "--window", str(args.share_window)]
    cmd += ["--train-images", str(args.share_images), "--data-dir", args.data_dir]
    cmd += ["--device", args.device]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ})
        for _ in range(n_proc)
    ]
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return sum(r["images"] / r["seconds"] for r in results)


def cpu_table(args, x, y, smooth, device) -> None:
    """Today's CPU table: ours vs the reference loop, estimate cost in epochs."""
    n_est = min(smooth["n_examples"] or len(x), len(x))
    passes = 1 + 2 * len(smooth["gammas"])
    print(
        f"{'model':<9} {'ours [img/s]':>13} {'DataLoader [img/s]':>19} {'ratio':>6} "
        f"{'estimate/epoch here':>20} {'paper-scale estimate/epoch':>27}"
    )
    for model_name in MODELS:
        runners = {"ours": trainer(model_name, x, y), "reference": reference(model_name, x, y)}
        rates = best_rates(runners, len(x), device, args.repeats)
        est = estimate_seconds(model_name, x, y, smooth, n_est, smooth["chunk_size"])
        epoch_here = len(x) / rates["ours"]
        per_image_pass = est / (passes * n_est)
        paper_n = smooth["n_examples"] or PAPER_TRAIN_IMAGES
        paper_ratio = per_image_pass * passes * paper_n / (PAPER_TRAIN_IMAGES / rates["ours"])
        print(
            f"{model_name:<9} {rates['ours']:>13.0f} {rates['reference']:>19.0f}"
            f" {rates['ours'] / rates['reference']:>5.2f}x {est / epoch_here:>19.2f}x"
            f" {paper_ratio:>26.2f}x"
        )
    print(
        f"(estimate: {passes} gradient passes over {n_est} images here, "
        f"{smooth['n_examples'] or 'all'} at paper scale; gammas {smooth['gammas']})"
    )


@contextmanager
def intra_op_threads(n: int) -> Iterator[None]:
    """``n`` intra-op threads inside the block, the previous count restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def with_threads(n: int, run):
    """``run`` with ``n`` intra-op threads, the previous count restored after each epoch."""

    def epoch(e: int) -> None:
        with intra_op_threads(n):
            run(e)

    return epoch


def without_onednn(run):
    """``run`` with oneDNN (mkldnn) convolutions off: PyTorch's own CPU kernels."""

    def epoch(e: int) -> None:
        with torch.backends.mkldnn.flags(enabled=False):
            run(e)

    return epoch


def load_line(when: str) -> str:
    """The load average, flagged when other processes share the CPU (indicative numbers): above
    this process's own threads (it counts in the 1-minute average) by half a core."""
    load = os.getloadavg()
    shared = load[0] > torch.get_num_threads() + 0.5
    note = "  (CPU shared with other processes: indicative numbers)" if shared else ""
    return f"load average {when}: {' '.join(f'{v:.1f}' for v in load)}{note}"


def option_runners(model_name: str, x, y, batch: int, threads: int, onednn_off: bool) -> dict:
    """The plain loop and signgeom's epoch per CPU option, each at ``threads`` threads
    (oneDNN off, about 8x slower, only where ``onednn_off``)."""
    base, cl = MODES[0], MODE_BY_NAME["fp32-det+CL"]
    compiled = Mode("fp32-det+compile", "fp32", True, compile=True)
    runners = {
        "plain loop (DataLoader, torch.optim.SGD)": reference(model_name, x, y, batch),
        "signgeom fp32-det": trainer(model_name, x, y, base, batch),
        "+ channels_last": trainer(model_name, x, y, cl, batch),
        "+ torch.compile (inductor CPU)": trainer(model_name, x, y, compiled, batch),
    }
    if onednn_off:
        runners["+ oneDNN off"] = without_onednn(trainer(model_name, x, y, base, batch))
    return {f"{threads}t {name}": with_threads(threads, run) for name, run in runners.items()}


def cpu_options_table(args, x, y, device) -> dict[tuple[int, str], dict[str, float]]:
    """Training images/s on the CPU per option and thread count, against the plain loop at
    the same thread count, both models, each batch of ``--cpu-batch``; returned per
    (batch, model)."""
    measured = {}
    for batch in args.cpu_batch:
        print(f"\n== CPU training images/s at batch {batch}, per option and thread count ==")
        print(load_line("before"))
        for model_name in MODELS:
            runners = {}
            for threads in args.cpu_threads:
                first = threads == args.cpu_threads[0]
                runners.update(option_runners(model_name, x, y, batch, threads, first))
            rates = measured[batch, model_name] = best_rates(runners, len(x), device, args.repeats)
            print(f"{model_name}:")
            for name, rate in rates.items():
                plain = rates[f"{name.split()[0]} plain loop (DataLoader, torch.optim.SGD)"]
                one = rates[f"{args.cpu_threads[0]}t signgeom fp32-det"]
                print(
                    f"  {name:<44} {rate:>7.0f} img/s  {rate / plain:>5.2f}x the plain loop"
                    f"  {rate / one:>5.2f}x signgeom at {args.cpu_threads[0]}t"
                )
        print(load_line("after"))
    return measured


def cpu_estimate_table(args, x, y, smooth: dict, device) -> dict[str, dict[str, float]]:
    """One estimate (``1 + 2 len(gammas)`` gradient passes over the images in chunks of
    ``--estimate-chunk``) in training epochs at ``--cpu-batch[0]`` on the same images, per
    path (``ESTIMATE_PATHS``), at the first of ``--cpu-threads``; the
    seconds of one estimate per path and model are returned."""
    threads, batch = args.cpu_threads[0], args.cpu_batch[0]
    passes = 1 + 2 * len(smooth["gammas"])
    print(
        f"\n== one estimate in training epochs ({passes} gradient passes over {len(x)} images,"
        f" chunks of {args.estimate_chunk}; epoch at batch {batch}; {threads} thread(s)) =="
    )
    print(load_line("before"))
    seconds: dict[str, dict[str, float]] = {}
    with intra_op_threads(threads):
        print(
            f"{'model':<9} {'path':<24} {'images/pass':>11} {'epoch [s]':>9} {'pass [s]':>9}"
            f" {'estimate [s]':>12} {'pass/epoch':>10} {'estimate/epoch':>14} {'R_hat':>10}"
        )
        for model_name in args.models:
            run = {"epoch": trainer(model_name, x, y, MODES[0], batch)}
            epoch = len(x) / best_rates(run, len(x), device, args.repeats)["epoch"]
            measured: dict[str, tuple] = {}
            coupled = couples_examples(build_model(model_name), smooth["bn_mode"])
            for path in args.estimate_paths:
                whole = path.replace("micro-batched", "sequential")
                if path != whole and whole in measured and coupled:
                    # the whole-chunk path itself: batch norm couples the chunk
                    measured[path] = measured[whole]
                    note = f"  (= {whole}: batch norm couples the chunk)"
                else:
                    measured[path] = estimate_cost(model_name, x, y, smooth, args, path)
                    note = ""
                sec, pass_sec, r_hat, size = measured[path]
                seconds.setdefault(model_name, {})[path] = sec
                print(
                    f"{model_name:<9} {path:<24} {size:>11} {epoch:>9.2f} {pass_sec:>9.2f}"
                    f" {sec:>12.2f}"
                    f" {pass_sec / epoch:>9.2f}x {sec / epoch:>13.2f}x {r_hat:>10.6f}{note}"
                )
    print(load_line("after"))
    return seconds


SUBSET_COLUMNS = (  # (label, training option, estimate path) of the subset projection
    ("before: plain, whole chunks", "signgeom fp32-det", "sequential"),
    ("micro_batch: auto", "signgeom fp32-det", "micro-batched"),
    ("+ compiled training", "+ torch.compile (inductor CPU)", "micro-batched"),
    ("+ compiled estimates", "+ torch.compile (inductor CPU)", "micro-batched, compiled"),
)


def cpu_subset_table(args, x, y, train_rates: dict, estimate_s: dict) -> None:
    """Figure 3 of ``presets/subset.yaml`` (grid, selection, estimates; one seed) in
    CPU-minutes at the rates measured above (one job per core, ``--cpu-threads[0]`` threads,
    batch 128) per combination of training option and estimate path, and the 2-core wall time
    it cannot beat (the CPU-minutes over 2: perfect packing, no slowdown from the other core's
    job). Evaluation runs at signgeom fp32-det's eval-mode rate."""
    preset = load_config_files(REPO / "config.yaml", REPO / "presets/subset.yaml")["cifar"]
    bundled = load_cifar10(args.data_dir, device="cpu")
    preset["data"].update(train_limit=len(bundled.train_y), test_limit=len(bundled.test_y))
    threads, batch = args.cpu_threads[0], preset["batch_size"]
    print(
        f"\n== presets/subset.yaml, Figure 3 (one seed) at the rates above: {threads} thread(s)"
        f" per job, batch {batch}, {len(bundled.train_y)} training images =="
    )
    print(f"{'':<34}" + "".join(f"{label:>30}" for label, _, _ in SUBSET_COLUMNS))
    cpu_min = [0.0] * len(SUBSET_COLUMNS)
    for model_name in MODELS:
        work = figure3_workload(preset, model_name)
        with intra_op_threads(threads):
            ev = eval_rate(model_name, x, y, MODES[0])
        cells: dict[str, list[float]] = {"training + evaluation": [], "estimates": []}
        for i, (_, option, path) in enumerate(SUBSET_COLUMNS):
            per_50k = estimate_s[model_name][path] * CIFAR10_TRAIN / len(x)
            rates = Rates(train_rates[batch, model_name][f"{threads}t {option}"], ev, per_50k)
            hours = project_hours(work, rates)
            cells["training + evaluation"].append(hours.train * 60)
            cells["estimates"].append(hours.estimate * 60)
            cpu_min[i] += hours.total * 60
        print(f"{model_name}: {work.runs} runs x {work.epochs} epochs, {work.estimates} estimates")
        for label, values in cells.items():
            print(f"{'  ' + label + ' [CPU-min]':<34}" + "".join(f"{v:>30.1f}" for v in values))
    print(f"{'total [CPU-min]':<34}" + "".join(f"{v:>30.1f}" for v in cpu_min))
    print(f"{'2-core wall, at least [min]':<34}" + "".join(f"{v / 2:>30.1f}" for v in cpu_min))
    print(
        "(Figure 3's training, evaluation and R_hat estimates only: the preset also runs the"
        " sensitivity, Hessian-premises, quadratic and figure jobs. A micro-batched path where"
        " batch norm couples the chunk's images is the whole-chunk path)"
    )


ESTIMATE_PATHS = (
    "sequential",
    "batched",
    "sequential, compiled",
    "sequential, channels_last",
    "micro-batched",
    "micro-batched, compiled",
    "micro-batched, channels_last",
)


def estimate_cost(model_name: str, x, y, smooth: dict, args, path: str):
    """(seconds of one estimate, of one full-gradient pass, R_hat, images per pass) along
    ``path``: strict fp32, best of ``--repeats`` after a warm-up, the same untrained network
    every time; ``micro-batched``: passes of ``pass_size`` (``--micro-batch``) images;
    ``channels_last``: network and images in NHWC (``cifar.smoothness.channels_last``)."""
    configure_numerics("fp32", True)
    torch.manual_seed(0)
    fmt = torch.channels_last if path.endswith("channels_last") else torch.contiguous_format
    net = build_model(model_name).to(x.device, memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    model = torch.compile(net) if path.endswith("compiled") else net
    size = args.estimate_chunk
    if path.startswith("micro"):
        size = pass_size(str(args.micro_batch), size, net, smooth["bn_mode"], x.device)
    chunks = make_chunks(x, y, None, size)
    kw = dict(alpha_gd=0.01, alpha_sign=1e-4, gammas=smooth["gammas"])
    kw.update(reduction=smooth["reduction"], bn_mode=smooth["bn_mode"])
    kw.update(batched=path == "batched")
    best_est = best_pass = float("inf")
    params = trainable(net)
    for rep in range(args.repeats + 1):
        start = time.perf_counter()
        est = estimate_smoothness(model, F.cross_entropy, chunks, **kw)
        mid = time.perf_counter()
        with fixed_mode(net, smooth["bn_mode"]):
            full_gradient(model, F.cross_entropy, chunks, params)
        end = time.perf_counter()
        if rep > 0:
            best_est, best_pass = min(best_est, mid - start), min(best_pass, end - mid)
    return best_est, best_pass, est.R_hat, size


def gpu_tables(args, x, y, smooth, device, paper: dict, estimates_only: bool = False) -> None:
    """Modes, the reference loop, sharing, estimates and the paper-scale projection."""
    if estimates_only:
        estimate_table(args, x, y, smooth)
        return
    print("\n== training images/s at batch 1000, per mode ==")
    rates: dict[str, dict[str, float]] = {}
    for model_name in MODELS:
        runners = {"reference (DataLoader, fp32-det)": reference(model_name, x, y)}
        runners.update({m.name: trainer(model_name, x, y, m) for m in MODES})
        rates[model_name] = best_rates(runners, len(x), device, args.repeats)
    names = list(rates["cnn"])
    print(f"{'mode':<34}" + "".join(f"{m:>12}" for m in MODELS))
    for name in names:
        print(f"{name:<34}" + "".join(f"{rates[m][name]:>12.0f}" for m in MODELS))

    fast = MODE_BY_NAME[args.share_mode]
    print(f"\n== aggregate training images/s, N processes sharing the GPU ({fast.name}) ==")
    shared: dict[str, dict[int, float]] = {m: {} for m in MODELS}
    print(f"{'N':<4}" + "".join(f"{m:>12}" for m in MODELS))
    for n_proc in (1, 2, 4, 8):
        for model_name in MODELS:
            shared[model_name][n_proc] = shared_rate(model_name, fast, n_proc, args)
        print(f"{n_proc:<4}" + "".join(f"{shared[m][n_proc]:>12.0f}" for m in MODELS))

    est = estimate_table(args, x, y, smooth)
    projection(paper, shared, est, x, y, fast, args)


def estimate_table(args, x, y, smooth: dict) -> dict[str, float]:
    """Seconds of one estimate over 50,000 images per chunk size and layout; the best of the
    config's layout per model is returned."""
    print("\n== one strict-fp32 estimate (1 + 2 len(gammas) passes), per chunk size ==")
    n_est = min(args.estimate_images, len(x))
    est: dict[str, float] = {}
    print(f"{'chunk':<13}" + "".join(f"{m + ' [s/50k]':>16}" for m in MODELS))
    for chunk in (1000, 2500, 5000):
        for cl in (False, True):
            row = {}
            for model_name in MODELS:
                sec = estimate_seconds(model_name, x, y, smooth, n_est, chunk, cl)
                row[model_name] = sec * PAPER_TRAIN_IMAGES / n_est
                if cl == smooth.get("channels_last", False):
                    est[model_name] = min(est.get(model_name, float("inf")), row[model_name])
            label = f"{chunk}{' CL' if cl else ''}"
            print(f"{label:<13}" + "".join(f"{row[m]:>16.2f}" for m in MODELS))
    return est


CONFIGURED = object()  # five_seed: keep config.yaml's estimate epochs


def five_seed(cifar: dict, seeds: int, schedule=CONFIGURED) -> dict:
    """``cifar`` with the grid on its first seed and the selected trajectories on ``seeds``
    seeds; with ``schedule`` (then stride 1; None: every epoch) instead of the configured
    estimate epochs."""
    out = {**cifar, "seeds": list(range(seeds)), "selection_seeds": [0]}
    if schedule is not CONFIGURED:
        out["smoothness"] = {**cifar["smoothness"], "stride": 1, "schedule": schedule}
    return out


def schedule_arg(args) -> object:
    """``--schedule``: its JSON (null: every epoch), or CONFIGURED for '' (no extra column)."""
    return json.loads(args.schedule) if args.schedule else CONFIGURED


def projection_table(paper: dict, rates: dict[str, Rates], args) -> None:
    """Device-hours of Figure 3 (signgeom.estimate.projection) at ``rates``: config.yaml as it is,
    with ``--seeds`` seeds, and with ``--schedule`` too, side by side."""
    cifar = paper["cifar"]
    schedule = schedule_arg(args)
    columns = {
        f"{len(cifar['seeds'])} seed, config": cifar,
        f"{args.seeds} seeds, config": five_seed(cifar, args.seeds),
    }
    if schedule is not CONFIGURED:
        label = "every epoch" if schedule is None else "--schedule"
        columns[f"{args.seeds} seeds, {label}"] = five_seed(cifar, args.seeds, schedule)
    print(
        f"\n== projected paper-scale Figure 3 [device-hours] ({args.seeds} seeds: the grid on"
        f" seed 0, the selected trajectories repeated on all; --schedule {args.schedule}) =="
    )
    print(f"{'':<36}" + "".join(f"{name:>22}" for name in columns))
    totals = dict.fromkeys(columns, 0.0)
    for model_name in MODELS:
        works = {name: figure3_workload(c, model_name) for name, c in columns.items()}
        hours = {name: project_hours(w, rates[model_name]) for name, w in works.items()}
        rows = {
            "training runs": [f"{w.runs}" for w in works.values()],
            "estimates (traj. x epochs)": [
                f"{w.trajectories} x {w.estimate_epochs}" for w in works.values()
            ],
            "training + evaluation [h]": [f"{h.train:.2f}" for h in hours.values()],
            "estimates [h]": [f"{h.estimate:.2f}" for h in hours.values()],
        }
        for label, cells in rows.items():
            print(f"{model_name + ': ' + label:<36}" + "".join(f"{c:>22}" for c in cells))
        for name, h in hours.items():
            totals[name] += h.total
    print(f"{'total [h]':<36}" + "".join(f"{t:>22.2f}" for t in totals.values()))


def projection(paper: dict, shared: dict, est: dict, x, y, fast: Mode, args) -> None:
    """The projection at the rates measured in this run (best sharing level per model)."""
    rates = {}
    for model_name in MODELS:
        best_n = max(shared[model_name], key=shared[model_name].get)
        train_rate = shared[model_name][best_n]
        ev_rate = eval_rate(model_name, x, y, fast) * train_rate / shared[model_name][1]
        rates[model_name] = Rates(train_rate, ev_rate, est[model_name])
        print(
            f"measured {model_name}: training {train_rate:.0f} img/s aggregate ({best_n} runs"
            f" per device), evaluation {ev_rate:.0f} img/s, one estimate"
            f" {est[model_name]:.2f} s per 50,000 images"
        )
    projection_table(paper, rates, args)


def table_rows(path, heading: str, skip: int = 1) -> list[list[str]]:
    """The whitespace-split rows of the table under the line starting with ``heading`` in a
    committed benchmark output (``skip`` lines skipped: the column header; up to the next
    blank line)."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading)) + 1 + skip
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def reference_rates(channels_last: bool) -> dict[str, tuple[Rates, str]]:
    """The last H100 rates (bench/results): the best aggregate training rate over the
    sharing levels, the fastest estimate over chunk sizes in the configured layout. The
    evaluation rate was not recorded: forward-only images are counted at the training rate
    (an upper bound on their cost)."""
    shared = table_rows(H100_TRAIN, "== aggregate training images/s")
    estimates = table_rows(H100_ESTIMATES, "== one strict-fp32 estimate")
    out = {}
    for i, model_name in enumerate(MODELS):
        best = max(shared, key=lambda row: float(row[1 + i]))
        layout = [row for row in estimates if ("CL" in row) == channels_last]
        fastest = min(layout, key=lambda row: float(row[-2 + i]))
        train = float(best[1 + i])
        rates = Rates(train=train, evaluate=train, estimate_s=float(fastest[-2 + i]))
        where = f"{best[0]} runs sharing the GPU; estimate in chunks of {fastest[0]}"
        out[model_name] = (rates, where)
    return out


def batched_cpu_speedups(precision: str) -> dict[str, float]:
    """Sequential / batched estimate time per model measured on the CPU (bench/results)."""
    rows = table_rows(BATCHED_CPU, "model ", skip=0)
    return {row[0]: float(row[4].rstrip("x")) for row in rows if row[1] == precision}


def reference_projection(paper: dict, args) -> None:
    """The projection from the committed H100 rates, with the estimate schedule's count
    (signgeom.training.schedule) and the CPU-measured batched finite differences beside it."""
    cifar, smooth = paper["cifar"], paper["cifar"]["smoothness"]
    print(f"== measured: the last H100 rates ({H100_TRAIN.name}, {H100_ESTIMATES.name}) ==")
    rates = reference_rates(smooth["channels_last"])
    for model_name, (r, where) in rates.items():
        print(
            f"{model_name:<9} training {r.train:>8.0f} img/s aggregate, one estimate"
            f" {r.estimate_s:.2f} s per 50,000 images ({where})"
        )
    print("evaluation: rate not recorded; forward-only images counted at the training rate")
    print(f"\n== measured on the CPU: batched finite differences ({BATCHED_CPU.name}) ==")
    speedups = batched_cpu_speedups(smooth["precision"])
    for model_name in MODELS:
        value = f"{speedups[model_name]:.2f}x" if model_name in speedups else "unmeasured"
        print(f"{model_name:<9} sequential / batched time, {smooth['precision']}: {value}")
    print(
        f"not applied: batched is {smooth['batched']!r} in config.yaml (auto: sequential on"
        " the CPU, where batched is slower; CUDA unmeasured, sequential)"
    )
    schedule = schedule_arg(args)
    print("\n== computed (signgeom.training.schedule.estimate_epochs): estimates per trajectory ==")
    for model_name in MODELS:
        epochs = cifar["models"][model_name]["epochs"]
        every = len(estimate_epochs(epochs))
        configured = len(estimate_epochs(epochs, smooth["stride"], smooth["schedule"]))
        line = f"{model_name:<9} every epoch: {every}; config.yaml: {configured}"
        line += f" ({every / configured:.1f}x fewer)"
        if schedule not in (CONFIGURED, None):
            chosen = len(estimate_epochs(epochs, 1, schedule))
            line += f"; --schedule: {chosen} ({every / chosen:.1f}x fewer)"
        print(line)
    projection_table(paper, {m: r for m, (r, _) in rates.items()}, args)
    print(
        "(projected: hours = runs x (epochs x images / training rate + evaluation images /"
        " rate) + estimates x estimate time, signgeom.estimate.projection; Figure 3 only, not the"
        " Hessian, sensitivity, rotation or similarity stages; nothing here ran at paper scale)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-images", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=str(REPO / "data/cifar10-subset/cifar-10-batches-py"))
    parser.add_argument("--share-mode", default="bf16+CL", choices=sorted(MODE_BY_NAME))
    parser.add_argument("--share-images", type=int, default=20000)
    parser.add_argument("--share-window", type=float, default=8.0)
    parser.add_argument("--share-warmup", type=float, default=25.0)
    parser.add_argument("--estimate-images", type=int, default=10000)
    parser.add_argument("--all-tables", action="store_true", help="GPU tables on any device")
    parser.add_argument("--estimates-only", action="store_true", help="only the estimate table")
    parser.add_argument("--cpu-options", action="store_true", help="only the CPU options table")
    parser.add_argument(
        "--cpu-batch", type=int, nargs="+", default=[128, 1000], help="batches of the CPU tables"
    )
    parser.add_argument(
        "--cpu-threads", type=int, nargs="+", default=[1, 2], help="threads of the CPU tables"
    )
    parser.add_argument(
        "--estimate-chunk", type=int, default=1034, help="chunk of the CPU estimate table"
    )
    parser.add_argument(
        "--cpu-estimate", action="store_true", help="only the CPU estimate-cost table"
    )
    parser.add_argument(
        "--models", nargs="+", default=list(MODELS), choices=MODELS, help="CPU estimate table"
    )
    parser.add_argument(
        "--estimate-paths", nargs="+", default=list(ESTIMATE_PATHS), choices=ESTIMATE_PATHS,
        help="paths of the CPU estimate table",
    )  # fmt: skip
    parser.add_argument(
        "--micro-batch", type=int, default=MICRO_BATCH_BY_DEVICE["cpu"],
        help="images per pass of the micro-batched estimate paths",
    )  # fmt: skip
    parser.add_argument(
        "--projection", action="store_true", help="only the projection from the last H100 rates"
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the projected Figure 3")
    parser.add_argument(
        "--schedule",
        default="null",
        help="estimate schedule (JSON; null: every epoch) projected beside config.yaml's;"
        " '' for none",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--window-start", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--window", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    paper = load_config_files(REPO / "config.yaml")
    if args.projection:
        reference_projection(paper, args)
        return
    device = torch.device(args.device)
    x, y = load_images(args.data_dir, args.train_images, device)
    smooth = paper["cifar"]["smoothness"]
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(
        f"device {device} ({name}), torch {torch.__version__}, threads"
        f" {torch.get_num_threads()}, {len(x)} training images,"
        f" batch {args.cpu_batch if args.cpu_options or args.cpu_estimate else BATCH},"
        f" best of {args.repeats} epochs"
    )
    if args.cpu_options:
        train_rates = cpu_options_table(args, x, y, device)
        estimate_s = cpu_estimate_table(args, x, y, smooth, device)
        if 128 in args.cpu_batch:
            cpu_subset_table(args, x, y, train_rates, estimate_s)
        return
    if args.cpu_estimate:
        cpu_estimate_table(args, x, y, smooth, device)
        return
    if device.type != "cuda":
        cpu_table(args, x, y, smooth, device)
    if args.estimates_only:
        gpu_tables(args, x, y, smooth, device, paper, estimates_only=True)
    elif device.type == "cuda" or args.all_tables:
        gpu_tables(args, x, y, smooth, device, paper)


if __name__ == "__main__":
    main()
