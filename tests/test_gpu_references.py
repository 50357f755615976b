"""tools/gpu_references.py: the config layers and Snakemake arguments of each reference, what is
collected, and the rotation sweep's hours against a count by hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from signgeom.config import drop_null_models, load_config_files, validate_config
from signgeom.estimate.projection import Rates, figure3_workload

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_references", REPO / "tools/gpu_references.py")
gpu_references = importlib.util.module_from_spec(spec)
sys.modules["gpu_references"] = gpu_references
spec.loader.exec_module(gpu_references)


def test_every_reference_names_existing_presets_and_the_gpu_overlay_comes_after_them(tmp_path):
    overlay = tmp_path / "seeds.yaml"
    for name, ref in gpu_references.REFERENCES.items():
        assert all((REPO / p).is_file() for p in ref.presets), name
        layers = gpu_references.configfiles(ref, overlay, tiny=True)
        assert layers[: len(ref.presets)] == [str(REPO / p) for p in ref.presets]
        assert layers[len(ref.presets) :] == [
            str(REPO / "presets/gpu-reference.yaml"),
            *(str(REPO / p) for p in ref.after_gpu),
            str(overlay),
            str(REPO / ref.tiny),
        ]
        assert (REPO / ref.tiny).is_file(), name
        assert gpu_references.configfiles(ref, overlay, tiny=False)[-1] == str(overlay)


def test_the_snakemake_call_is_an_argument_list_with_the_layers_last():
    ref = gpu_references.REFERENCES["rotation"]
    layers = ["a b.yaml", "$(touch x).yaml"]
    cmd = gpu_references.snakemake_command(ref, Path("/w d"), layers, 3)
    assert cmd[1:3] == ["-m", "snakemake"] and cmd[-3:] == ["--configfile", *layers]
    assert cmd[cmd.index("--directory") + 1] == "/w d" and cmd[cmd.index("--cores") + 1] == "3"
    assert set(ref.outputs) <= set(cmd)


def test_collect_copies_what_exists_and_names_what_is_missing(tmp_path):
    ref = gpu_references.REFERENCES["subset"]
    work, dest = tmp_path / "work", tmp_path / "ref"
    for rel in ref.outputs[:2]:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(rel)
    (work / "benchmarks/cifar").mkdir(parents=True)
    (work / "benchmarks/cifar/x.tsv").write_text("s\n1\n")
    layer = tmp_path / "seeds.yaml"
    layer.write_text("cifar: {seeds: [0]}\n")
    missing = gpu_references.collect(ref, work, dest, [str(layer)])
    assert missing == list(ref.outputs[2:])
    assert (dest / Path(ref.outputs[0]).name).read_text() == ref.outputs[0]
    assert (dest / "benchmarks/cifar/x.tsv").is_file()
    assert (dest / "configs/0-seeds.yaml").read_text() == layer.read_text()


def test_rotation_hours_count_the_sweep_beyond_figure3():
    config = load_config_files(REPO / "config.yaml", REPO / "presets/subset.yaml")
    cifar = config["cifar"] | {"seeds": [0, 1, 2]}
    cifar["rotation"] = {
        "models": ["cnn"], "optimizers": ["sgd", "signsgd"], "thetas": [0.0, 0.5, 1.0],
        "lr_factors": [0.5, 1.0, 2.0], "block_size": 64,
    }  # fmt: skip
    rates = Rates(train=1000.0, evaluate=2000.0, estimate_s=10.0)
    work = figure3_workload(cifar, "cnn")
    per_run = work.epochs * work.train_images / 1000.0 + work.eval_images / 2000.0
    runs = (3 * 3 - 1) * 2 * 3  # thetas x factors, less the Figure 3 run; optimizers; seeds
    estimates = 2 * work.estimate_epochs * 2 * 3  # rotated thetas x epochs; optimizers; seeds
    expected = (runs * per_run + estimates * 10.0 * work.estimate_images / 50_000) / 3600
    assert gpu_references.rotation_hours(cifar, "cnn", rates) == pytest.approx(expected)


def test_seeds_must_be_distinct():
    with pytest.raises(SystemExit):
        gpu_references.main(["--projection", "--seeds", "1", "1"])


@pytest.mark.parametrize("name", sorted(gpu_references.REFERENCES))
def test_every_reference_and_its_tiny_check_is_a_valid_config(tmp_path, name):
    """The layers of each reference, at full size and tiny, pass the config check; the tiny
    check runs on the CPU at one epoch."""
    ref = gpu_references.REFERENCES[name]
    overlay = tmp_path / "seeds.yaml"
    overlay.write_text("cifar: {seeds: [0, 1]}\n")
    for tiny in (False, True):
        layers = gpu_references.configfiles(ref, overlay, tiny=tiny)
        config = load_config_files(REPO / "config.yaml", *layers)
        validate_config(config)
        drop_null_models(config)
        models = config["cifar"]["models"]
        assert models and config["cifar"]["seeds"] == [0, 1]
        if tiny:
            assert config["cifar"]["device"] == "cpu"
            assert {spec["epochs"] for spec in models.values()} == {1}


def test_a_reference_without_a_committed_rate_is_not_projected():
    rates = gpu_references._h100_rates()
    assert gpu_references.projected_hours("transformer", [0, 1, 2], rates) is None
    assert gpu_references.projected_hours("subset", [0, 1, 2], rates) > 0


def test_references_with_claims_on_r_hat_estimate_the_paper_probe_options():
    """The CPU presets list no robustness option; the GPU references with R_hat claims get
    config.yaml's (a valid config), the rotation sweep none; each option's estimates are
    counted in the projection like the headline's."""
    from signgeom.config import merged_config, validate_config

    paper = load_config_files(REPO / "config.yaml")["cifar"]["smoothness"]
    assert paper["robustness_probe_steps"]  # at paper scale
    for name, ref in gpu_references.REFERENCES.items():
        layer = gpu_references.overlay(ref, [0, 1])
        assert layer["cifar"]["seeds"] == [0, 1]
        config = load_config_files(REPO / "config.yaml", *(REPO / p for p in ref.presets))
        assert config["cifar"]["smoothness"]["robustness_probe_steps"] == [], name
        merged = merged_config(config, layer)
        validate_config(merged)
        options = merged["cifar"]["smoothness"]["robustness_probe_steps"]
        assert options == ([] if name == "rotation" else paper["robustness_probe_steps"]), name
        model = next(m for m, spec in merged["cifar"]["models"].items() if spec)
        work, headline = figure3_workload(merged["cifar"], model), figure3_workload(
            config["cifar"] | {"seeds": [0, 1]}, model
        )
        assert work.estimates == (1 + len(options)) * headline.estimates, name
