"""Every multi-seed reference (subset, subset-long, rotation, sign family, transformer) in one
command.

    python tools/gpu_references.py --out OUT [--seeds 0 1 2 3 4] [--cores 16] [--only NAME ...]
    python tools/gpu_references.py --out /tmp/tiny --tiny      # the same, tiny, on the CPU
    python tools/gpu_references.py --projection                 # expected GPU-hours only

Each reference is Snakemake on its own presets (``REFERENCES``), with
``presets/gpu-reference.yaml`` (one GPU, strict fp32, deterministic kernels) and an overlay
(:func:`overlay`) that sets ``cifar.seeds`` and, for a reference with claims on R_hat, the
paper-scale ``cifar.smoothness.robustness_probe_steps`` of ``config.yaml`` (the CPU presets
set none), so its claims table has the verdicts per probe option; in its own work directory
``OUT/work/<name>`` (``--directory``: a rerun resumes there, jobs and checkpoints included).
Its outputs, benchmarks and the overlay are then copied to ``OUT/results/reference/<name>/``,
where the CPU references keep theirs; the provenance next to them records the configs that
produced them.

``--tiny`` adds ``presets/tiny-check.yaml`` last (the transformer's:
``presets/tiny-check-transformer.yaml``; a few hundred images or windows, one epoch, the CPU):
the whole chain in minutes, to check the command before a GPU session spends its time on it.

The expected time (``--projection``, also printed before a run) is the Figure 3 arithmetic of
``signgeom.estimate.projection`` at the H100 rates committed under ``bench/results`` (training
images/s and one estimate's seconds at paper scale), summed over each reference's models, plus
the rotated runs and estimates of the rotation sweep (the robustness estimates counted as
Figure 3 estimates: each costs what a headline one does); a reference with a model that has no
committed H100 rate (the transformer) is not projected. The rates were measured on 50,000-image
epochs: on the 5,170-image subset the per-epoch overheads weigh more, so read it as a floor.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from signgeom.config import load_config_files, merged_config  # noqa: E402
from signgeom.estimate.projection import Rates, figure3_workload, project_hours  # noqa: E402
from signgeom.training.schedule import estimate_epochs  # noqa: E402

GPU_OVERLAY = "presets/gpu-reference.yaml"
TINY_OVERLAY = "presets/tiny-check.yaml"
FIGURE3_TABLES = [
    "results/cifar/step_sizes.csv",
    "results/cifar/metrics.csv",
    "results/cifar/smoothness.csv",
    "results/cifar/claims.csv",
]


@dataclass(frozen=True)
class Reference:
    """One reference: the presets under the GPU overlay, and the files it keeps."""

    presets: tuple[str, ...]
    outputs: tuple[str, ...]  # also the Snakemake targets
    robustness: bool = True  # estimate the robustness probe options (claims per option)
    tiny: str = TINY_OVERLAY  # the overlay of --tiny
    after_gpu: tuple[str, ...] = ()  # presets that override the GPU overlay (its layout)


REFERENCES: dict[str, Reference] = {
    "subset": Reference(
        ("presets/subset.yaml",),
        (*FIGURE3_TABLES, "figures/figure3.png", "figures/figure3.pdf"),
    ),
    "subset-long": Reference(
        ("presets/subset-long.yaml",),
        (*FIGURE3_TABLES, "figures/figure3.png", "figures/figure3.pdf"),
    ),
    "rotation": Reference(
        ("presets/subset.yaml", "presets/rotation.yaml"),
        (
            "results/cifar/step_sizes.csv",
            "results/cifar/rotation.csv",
            "results/cifar/rotation_claims.csv",
            "figures/figure5.png",
        ),
        robustness=False,  # its claims are on the rotated estimates, made with the headline only
    ),
    "family": Reference(
        ("presets/subset.yaml", "presets/sign-family.yaml"),
        (
            *FIGURE3_TABLES,
            "results/cifar/family.csv",
            "results/cifar/family_claims.csv",
            "figures/figure3_family.png",
        ),
    ),
    "transformer": Reference(
        ("presets/transformer.yaml",),
        (
            *FIGURE3_TABLES[:3],
            "results/cifar/transformer_claims.csv",
            "results/cifar/transformer_losses.csv",
            "results/cifar/rotation.csv",
            "results/cifar/rotation_claims.csv",
            "figures/figure3.png",
            "figures/figure5.png",
        ),
        tiny="presets/tiny-check-transformer.yaml",
        after_gpu=("presets/transformer-gpu.yaml",),  # its NCHW over the overlay's NHWC
    ),
}


def overlay(ref: Reference, seeds: Sequence[int]) -> dict:
    """The reference's last preset layer but the tiny one: its seeds and, where
    ``ref.robustness``, ``config.yaml``'s ``cifar.smoothness.robustness_probe_steps``."""
    cifar: dict = {"seeds": list(seeds)}
    if ref.robustness:
        paper = yaml.safe_load((REPO / "config.yaml").read_text())["cifar"]["smoothness"]
        cifar["smoothness"] = {"robustness_probe_steps": list(paper["robustness_probe_steps"])}
    return {"cifar": cifar}


def configfiles(ref: Reference, seeds_overlay: Path, tiny: bool) -> list[str]:
    """The config layers of ``ref``, in ``--configfile`` order (the last wins)."""
    layers = [str(REPO / p) for p in (*ref.presets, GPU_OVERLAY, *ref.after_gpu)]
    layers.append(str(seeds_overlay))
    if tiny:
        layers.append(str(REPO / ref.tiny))
    return layers


def snakemake_command(ref: Reference, workdir: Path, layers: Sequence[str], cores: int):
    """The Snakemake argument list (no shell: every value is one argument)."""
    return [
        sys.executable, "-m", "snakemake", *ref.outputs, "--cores", str(cores),
        "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--keep-going", "--configfile", *layers,
    ]  # fmt: skip


def collect(ref: Reference, workdir: Path, dest: Path, layers: Sequence[str]) -> list[str]:
    """Copy the outputs, the benchmark files and the config layers of a finished reference;
    the names of the outputs missing (a failed job) are returned, nothing else is touched."""
    dest.mkdir(parents=True, exist_ok=True)
    missing = []
    for rel in ref.outputs:
        src = workdir / rel
        if src.is_file():
            shutil.copy2(src, dest / src.name)
        else:
            missing.append(rel)
    provenance = workdir / "results/cifar/provenance.json"
    if provenance.is_file():
        shutil.copy2(provenance, dest / "provenance.json")
    if (workdir / "benchmarks").is_dir():
        shutil.copytree(workdir / "benchmarks", dest / "benchmarks", dirs_exist_ok=True)
    layer_dir = dest / "configs"
    layer_dir.mkdir(exist_ok=True)
    for i, layer in enumerate(layers):
        shutil.copy2(layer, layer_dir / f"{i}-{Path(layer).name}")
    return missing


def _h100_rates() -> dict[str, Rates]:
    spec = importlib.util.spec_from_file_location("bench_cifar", REPO / "bench/bench_cifar.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_cifar"] = bench  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    return {model: rates for model, (rates, _) in bench.reference_rates(True).items()}


def rotation_hours(cifar: dict, model: str, rates: Rates) -> float:
    """Device-hours of the rotation sweep's runs and rotated estimates beyond Figure 3's own
    (theta = 0 at factor 1 is the Figure 3 run): per seed and optimizer,
    ``thetas x factors - 1`` runs and ``rotated thetas x estimate epochs`` estimates."""
    rot = cifar["rotation"]
    work = figure3_workload(cifar, model)
    seeds = len(cifar["seeds"])
    per_opt_runs = len(rot["thetas"]) * len(rot["lr_factors"]) - 1
    runs = per_opt_runs * len(rot["optimizers"]) * seeds
    smooth = cifar["smoothness"]
    n_est = len(estimate_epochs(work.epochs, smooth["stride"], smooth.get("schedule")))
    rotated = len([t for t in rot["thetas"] if t != 0])
    estimates = rotated * n_est * len(rot["optimizers"]) * seeds
    per_run = work.epochs * work.train_images / rates.train + work.eval_images / rates.evaluate
    per_estimate = rates.estimate_s * work.estimate_images / 50_000
    return (runs * per_run + estimates * per_estimate) / 3600


def projected_hours(name: str, seeds: Sequence[int], rates: dict[str, Rates]) -> float | None:
    """Expected H100 hours of reference ``name`` on ``seeds`` (module docstring); None where a
    model of it has no committed H100 rate."""
    ref = REFERENCES[name]
    config = load_config_files(
        REPO / "config.yaml", *(REPO / p for p in (*ref.presets, *ref.after_gpu))
    )
    cifar = merged_config(config, overlay(ref, seeds))["cifar"]
    models = [m for m, spec in cifar["models"].items() if spec is not None]
    if any(model not in rates for model in models):
        return None
    hours = 0.0
    for model in models:
        hours += project_hours(figure3_workload(cifar, model), rates[model]).total
        if name == "rotation" and model in cifar["rotation"]["models"]:
            hours += rotation_hours(cifar, model, rates[model])
    return hours


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="where work/ and results/reference/ go")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--cores", type=int, default=16)
    p.add_argument("--only", nargs="+", choices=sorted(REFERENCES), default=list(REFERENCES))
    p.add_argument("--tiny", action="store_true", help="tiny sizes on the CPU (a check)")
    p.add_argument("--projection", action="store_true", help="print the expected hours only")
    a = p.parse_args(argv)
    if len(set(a.seeds)) != len(a.seeds) or min(a.seeds) < 0:
        p.error(f"--seeds must be distinct non-negative integers, got {a.seeds}")
    rates = _h100_rates()
    total, unrated = 0.0, []
    for name in a.only:
        hours = projected_hours(name, a.seeds, rates)
        if hours is None:
            unrated.append(name)
            print(f"{name:<12} {len(a.seeds)} seeds: not projected (no committed H100 rate)")
            continue
        total += hours
        print(f"{name:<12} {len(a.seeds)} seeds: {hours:5.2f} H100-hours (projected)")
    note = f", not counting {', '.join(unrated)}" if unrated else ""
    print(f"{'total':<12} {total:5.2f} H100-hours (projected from bench/results rates{note})")
    if a.projection:
        return 0
    if a.out is None:
        p.error("--out is required unless --projection")
    out = a.out.resolve()
    failed = []
    for name in a.only:
        ref = REFERENCES[name]
        workdir = out / "work" / name
        workdir.mkdir(parents=True, exist_ok=True)
        layer = workdir / "seeds.yaml"
        layer.write_text(yaml.safe_dump(overlay(ref, a.seeds)))
        layers = configfiles(ref, layer, a.tiny)
        print(f"== {name}: {' '.join(layers)}", flush=True)
        rc = subprocess.run(snakemake_command(ref, workdir, layers, a.cores)).returncode
        missing = collect(ref, workdir, out / "results/reference" / name, layers)
        if rc or missing:
            failed.append(name)
            print(f"== {name}: snakemake exit {rc}; missing: {missing or 'none'}", flush=True)
    print("failed: " + " ".join(failed) if failed else "every reference finished")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
