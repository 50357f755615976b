"""Config validation: the shipped configs pass; each kind of mistake names its key."""


from pathlib import Path

import pytest
import yaml

from signgeom.config import (
    CIFAR10_TRAIN_IMAGES,
    ConfigError,
    estimation_set_size,
    merged_config,
    validate_config,
)
from signgeom.estimate.estimate_settings import estimation_examples
from signgeom.linf.solve import CERTIFIED_MAX_DIM
from signgeom.norms import DEFAULT_MAX_EXACT_DIM
from signgeom.workflow import REPO


def stacked_on(preset: Path) -> list[Path]:
    """The presets a preset's front comment says it goes on (``#: on: a, then b``; the first of
    alternatives ``a or b``), in order; none for config.yaml or any preset."""
    line = next(x for x in preset.read_text().splitlines() if x.startswith("#: on:"))
    below = []
    for part in line.removeprefix("#: on:").split(", then "):
        candidate = REPO / "presets" / f"{part.split(' or ')[0].strip()}.yaml"
        if candidate.is_file():
            below.append(candidate)
    return below


def test_shipped_configs_are_valid(config):
    """config.yaml, and each preset on the presets its front comment stacks it on."""
    validate_config(config)
    for preset in sorted((REPO / "presets").glob("*.yaml")):
        merged = config
        for layer in [*stacked_on(preset), preset]:
            merged = merged_config(merged, yaml.safe_load(layer.read_text()))
        validate_config(merged)


@pytest.mark.parametrize(
    "edit, key",
    [
        (
            lambda c: c["cifar"]["models"].update(vgg16=c["cifar"]["models"]["cnn"]),
            "cifar.models.vgg16",
        ),
        (
            lambda c: c["cifar"]["models"]["cnn"]["step_sizes"].update(lbfgs=[1e-4]),
            "cifar.models.cnn.step_sizes.lbfgs",
        ),
        (
            lambda c: c["cifar"]["models"]["cnn"]["step_sizes"].update(sgd=[-0.1]),
            "cifar.models.cnn.step_sizes.sgd.0",
        ),
        (
            lambda c: c["cifar"]["models"]["cnn"].update(selection_epoch=500),
            "cifar.models.cnn.selection_epoch",
        ),
        (lambda c: c["cifar"]["smoothness"].update(reduction="mean"), "cifar.smoothness.reduction"),
        (
            lambda c: c["cifar"]["data"].update(source="local", local_dir=None),
            "cifar.data.local_dir",
        ),
        (lambda c: c["quadratic"].update(families=["one_outlier", "flat"]), "quadratic.families.1"),
        (lambda c: c["quadratic"].update(families=["two_outliers"]), "quadratic.lambda_ratio.max"),
        (lambda c: c["quadratic"].update(families=[]), "quadratic.families"),
        (
            lambda c: c["quadratic"]["separable"].update(solver="mosek"),
            "quadratic.separable.solver",
        ),
        (lambda c: c["two_d"].update(lambda_max=[0.5, 2.0]), "two_d.lambda_max"),
        (lambda c: c["quadratic"]["lambda_ratio"].update(max=12.0), "quadratic.lambda_ratio.max"),
        (lambda c: c["resources"].update(gpus=1), "resources.gpus"),
        (lambda c: c["resources"].update(runs_per_gpu=0), "resources.runs_per_gpu"),
        (lambda c: c["resources"].update(gpu=2, runs_per_gpu=4), "resources.runs_per_gpu"),
        (
            lambda c: c["quadratic"].update(starts_per_rotation="fresh"),
            "quadratic.starts_per_rotation",
        ),
        (lambda c: c["quadratic"]["bootstrap"].update(level=1.0), "quadratic.bootstrap.level"),
        (
            lambda c: c["quadratic"]["bootstrap"].update(resamples=5),
            "quadratic.bootstrap.resamples",
        ),
        (lambda c: c["quadratic"].update(max_exact_dim=40), "quadratic.max_exact_dim"),
        (
            lambda c: c["cifar"]["models"]["cnn"]["step_sizes"].update(sgd=[0.1, float("inf")]),
            "cifar.models.cnn.step_sizes.sgd.1",
        ),
        (lambda c: c["cifar"].update(momentum=float("nan")), "cifar.momentum"),
        (lambda c: c["cifar"]["hessian"].update(n_probes=1), "cifar.hessian.n_probes"),
        (lambda c: c["cifar"]["hessian"].update(n_examples=10**6), "cifar.hessian.n_examples"),
        (lambda c: c["cifar"]["hessian"].update(models=["vgg16"]), "cifar.hessian.models"),
        (lambda c: c["saddles"].update(init_radius=3.0), "saddles.init_radius"),
        (lambda c: c["saddles"]["step_sizes"].update(adam=0.1), "saddles.step_sizes.adam"),
        (
            lambda c: c["cifar"]["similarity"].update(warmup_steps=0),
            "cifar.similarity.warmup_steps",
        ),
        (
            lambda c: c["cifar"]["smoothness"].update(probe_step="radius", probe_radius=None),
            "cifar.smoothness.probe_radius",
        ),
        (
            lambda c: c["cifar"]["smoothness"].update(robustness_probe_steps=["heavy-ball"]),
            "cifar.smoothness.robustness_probe_steps.0",
        ),
        (
            lambda c: c["cifar"]["smoothness"].update(robustness_probe_steps="heavy_ball"),
            "cifar.smoothness.robustness_probe_steps",
        ),
        (
            lambda c: c["cifar"]["smoothness"].update(robustness_probe_steps=["radius"]),
            "cifar.smoothness.probe_radius",  # radius has no length to probe with
        ),
        (
            lambda c: c["cifar"]["smoothness"].update(robustness_probe_steps=["raw"]),
            "cifar.smoothness.robustness_probe_steps",  # the headline itself
        ),
        (
            lambda c: c["cifar"]["smoothness"].update(probe_step="heavy_ball"),
            "cifar.smoothness.robustness_probe_steps",  # config.yaml lists heavy_ball
        ),
        (lambda c: c["cifar"]["sensitivity"].update(models=["vgg"]), "cifar.sensitivity.models.0"),
        (lambda c: c["cifar"]["sensitivity"].update(factors=[]), "cifar.sensitivity.factors"),
        (lambda c: c["cifar"]["claims"].update(level=1.0), "cifar.claims.level"),
        (lambda c: c["cifar"]["claims"].update(similar_factor=1.0), "cifar.claims.similar_factor"),
        (
            lambda c: c["cifar"]["claims"].update(invariant_factor=0.9),
            "cifar.claims.invariant_factor",
        ),
        (lambda c: c["cifar"]["claims"].update(min_seeds=0), "cifar.claims.min_seeds"),
        (
            lambda c: c["cifar"]["claims"].update(loss_tail_fraction=0),
            "cifar.claims.loss_tail_fraction",
        ),
        (lambda c: c["cifar"].update(selection_seeds=[]), "cifar.selection_seeds"),
        (lambda c: c["cifar"]["rotation"].update(models=["vgg16"]), "cifar.rotation.models"),
        (lambda c: c["cifar"]["rotation"].update(thetas=[0.0, 1.5]), "cifar.rotation.thetas.1"),
        (lambda c: c["cifar"]["rotation"].update(block_size=1), "cifar.rotation.block_size"),
        (
            lambda c: c["cifar"]["smoothness"].update(micro_batch="fast; rm -rf x"),
            "cifar.smoothness.micro_batch",
        ),
        (lambda c: c["cifar"]["smoothness"].update(micro_batch=0), "cifar.smoothness.micro_batch"),
        (lambda c: c["cifar"]["rotation"].update(lr_factors=[0.0]), "cifar.rotation.lr_factors.0"),
        (lambda c: c["cifar"]["rotation"].update(optimizers=["adam"]), "cifar.rotation.optimizers"),
        (lambda c: c["cifar"]["rotation"].update(optimizers=["lion"]), "cifar.rotation.optimizers"),
        (
            lambda c: c["cifar"]["smoothness"].update(stride=2, schedule=[0, 5]),
            "cifar.smoothness.stride",
        ),
        (
            lambda c: c["cifar"]["smoothness"].update(schedule=[0, 10**5]),
            "cifar.smoothness.schedule",
        ),
        (
            lambda c: c["cifar"]["smoothness"].update(schedule=[3, 3]),
            "cifar.smoothness.schedule",
        ),
        (
            lambda c: c["cifar"]["smoothness"].update(schedule={"dense_until": 10, "every": 1}),
            "cifar.smoothness.schedule",
        ),
        (
            lambda c: c["cifar"]["smoothness"].update(
                schedule={"dense_until": 0, "every": 1, "log_points": 5}
            ),
            "cifar.smoothness.schedule",
        ),
        (lambda c: c["cifar"]["data"].update(train_limit=500), "cifar.batch_size"),
        (lambda c: c["cifar"].update(batch_size=50_001), "cifar.batch_size"),
        (lambda c: c["cifar"]["training"].update(precision="fp16"), "cifar.training.precision"),
        (lambda c: c["cifar"]["smoothness"].update(precision="bf16"), "cifar.smoothness.precision"),
        (lambda c: c["cifar"].update(device="tpu"), "cifar.device"),
        (lambda c: c["cifar"]["hessian"].update(max_exact_dim=31), "cifar.hessian.max_exact_dim"),
    ],
)
def test_errors_name_the_key(config, edit, key):
    edit(config)
    with pytest.raises(ConfigError, match=f"config key '{key}'"):
        validate_config(config)


@pytest.mark.parametrize("text, fixed", [("1e-2", "1.0e-2"), ("3E5", "3.0e+5"), ("5e+3", "5.0e+3")])
def test_a_number_yaml_reads_as_a_string_gets_how_to_write_it(config, text, fixed):
    edit = yaml.safe_load(f"cifar: {{models: {{cnn: {{step_sizes: {{sgd: [{text}]}}}}}}}}")
    assert edit["cifar"]["models"]["cnn"]["step_sizes"]["sgd"] == [text]  # YAML 1.1: a string
    with pytest.raises(ConfigError) as err:
        validate_config(merged_config(config, edit))
    assert "config key 'cifar.models.cnn.step_sizes.sgd.0'" in str(err.value)
    assert f"write {fixed}" in str(err.value)
    assert yaml.safe_load(f"x: {fixed}")["x"] == float(text)  # the advice is right


def test_too_large_batches_say_why(config):
    config["cifar"]["hessian"]["models"] = []  # no Hessian stage: allowed
    validate_config(config)
    config["cifar"]["data"]["train_limit"] = 500
    with pytest.raises(ConfigError, match=r"1000 is more than the training set .*at most 500"):
        validate_config(config)
    config["cifar"]["batch_size"] = 500  # exactly the training set: one full batch, allowed
    validate_config(config)


@pytest.mark.parametrize(
    "n_examples, train_limit, passed, size",
    [(None, None, None, CIFAR10_TRAIN_IMAGES), (None, 500, 500, 500), (200, 500, 200, 200)],
)
def test_the_estimation_set_is_n_examples_or_the_training_set(
    config, n_examples, train_limit, passed, size
):
    config["cifar"]["smoothness"]["n_examples"] = n_examples
    config["cifar"]["data"]["train_limit"] = train_limit
    assert estimation_examples(config["cifar"]) == passed
    assert estimation_set_size(config["cifar"]) == size


def test_both_exact_norm_limits_share_one_maximum(config):
    for section in (config["quadratic"], config["cifar"]["hessian"]):
        section["max_exact_dim"] = DEFAULT_MAX_EXACT_DIM
    validate_config(config)
    config["quadratic"]["max_exact_dim"] = DEFAULT_MAX_EXACT_DIM + 1
    with pytest.raises(ConfigError, match="'quadratic.max_exact_dim'.*maximum of"):
        validate_config(config)


def test_only_identity_plus_rank_families_pass_the_enumeration_limit(config):
    config["quadratic"].update(dim=100, families=["one_outlier", "three_outliers"])
    config["quadratic"]["lambda_ratio"].update(min=1.0, max=12.0)
    validate_config(config)  # L_inf exact at any d through the structure
    config["quadratic"]["families"].append("power_law")
    with pytest.raises(ConfigError, match=r"'quadratic.dim'.*families \['power_law'\]"):
        validate_config(config)
    config["quadratic"]["dim"] = CERTIFIED_MAX_DIM  # dense: certified by branch and bound
    validate_config(config)


def test_merged_config_layers_presets_as_snakemake_does(config):
    """Each preset over config.yaml: equal to Snakemake's own --configfile merge, inputs intact."""
    import copy

    from snakemake.utils import update_config

    for preset in sorted((REPO / "presets").glob("*.yaml")):
        override = yaml.safe_load(preset.read_text())
        before = copy.deepcopy((config, override))
        expected = copy.deepcopy(config)
        update_config(expected, copy.deepcopy(override))
        assert merged_config(config, override) == expected, preset.name
        assert (config, override) == before, preset.name
    layered = merged_config({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}}, {"a": {"d": 3}})
    assert layered == {"a": {"b": 1, "c": [2], "d": 3}}


@pytest.mark.parametrize(
    "section, key, value",
    [
        ("rotation", "block_size", 100_000_000),
        ("hessian", "block_size", 100_000_000),
        ("smoothness", "chunk_size", 10**12),
        ("smoothness", "micro_batch", 10**12),
    ],
)
def test_a_size_that_would_exhaust_memory_is_refused_naming_the_key(config, section, key, value):
    """Each of these sizes allocates (a k x k matrix, k HVPs, a chunk of images): an absurd one
    is a config error, not an out-of-memory traceback in a job."""
    config["cifar"][section][key] = value
    with pytest.raises(ConfigError, match=rf"'cifar\.{section}\.{key}': {value} is"):
        validate_config(config)


def test_muon_under_rotation_is_refused_naming_the_key(config):
    config["cifar"]["rotation"]["optimizers"] = ["sgd", "muon"]
    for model in config["cifar"]["rotation"]["models"]:
        config["cifar"]["models"][model]["step_sizes"]["muon"] = [0.01]
    with pytest.raises(ConfigError, match=r"'cifar\.rotation\.optimizers': 'muon' cannot be"):
        validate_config(config)


def _with_transformer(config, **entry):
    """``config`` plus a ``cifar.models`` entry ``lm`` (the CNN's grid and epochs), in the
    layout of text inputs (``channels_last`` false)."""
    config["cifar"]["models"]["lm"] = {**config["cifar"]["models"]["cnn"], **entry}
    for section in ("training", "smoothness"):
        config["cifar"][section]["channels_last"] = False
    return config


def test_an_unknown_network_names_its_key_and_the_models_by_task(config):
    _with_transformer(config, architecture="gpt5")
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    message = str(err.value)
    assert "config key 'cifar.models.lm.architecture': unknown model 'gpt5'" in message
    assert "'charlm': ['transformer-cpu'," in message and "'cifar10': ['cnn'," in message
    config["cifar"]["models"]["lm"].pop("architecture")  # the key itself names the network
    with pytest.raises(ConfigError, match=r"config key 'cifar\.models\.lm': unknown model 'lm'"):
        validate_config(config)


def test_stages_and_augmentation_the_language_model_lacks_are_refused_by_name(config, monkeypatch):
    from signgeom.tasks.base import Task
    from signgeom.tasks.charlm.task import CharLMTask

    _with_transformer(config, architecture="transformer-tiny", batch_size=8)
    validate_config(config)
    config["cifar"]["hessian"]["models"] = ["cnn", "lm"]
    validate_config(config)  # the language model has a Hessian loss
    monkeypatch.setattr(CharLMTask, "hessian_loss", Task.hessian_loss)  # a task without one
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert "config key 'cifar.hessian.models': 'lm' is a model of task 'charlm'" in str(err.value)
    assert "the Hessian stage does not support" in str(err.value)
    config["cifar"]["hessian"]["models"] = ["cnn"]
    config["cifar"]["augmentation"] = "keras"
    with pytest.raises(ConfigError, match=r"'keras' is not an augmentation of task 'charlm'"):
        validate_config(config)


def test_a_null_entry_drops_a_model_and_per_model_batch_sizes_are_checked(config):
    from signgeom.config import active_models, drop_null_models

    edit = {"cifar": {"models": {"resnet20": None, "lm": {**config["cifar"]["models"]["cnn"],
            "architecture": "transformer-tiny", "batch_size": 600}},
            "data": {"train_limit": 500}, "batch_size": 100,
            "hessian": {"models": ["cnn"]}, "rotation": {"models": ["cnn"]},
            "sensitivity": {"models": ["cnn"]}, "training": {"channels_last": False},
            "smoothness": {"channels_last": False}}}  # fmt: skip
    merged = merged_config(config, edit)
    assert list(active_models(merged["cifar"])) == ["cnn", "lm"]
    with pytest.raises(ConfigError, match=r"'cifar\.models\.lm\.batch_size': 600 is more"):
        validate_config(merged)
    merged["cifar"]["models"]["lm"]["batch_size"] = 8
    validate_config(merged)
    drop_null_models(merged)
    assert set(merged["cifar"]["models"]) == {"cnn", "lm"}
    merged["cifar"]["models"] = {"cnn": None, "lm": None}
    with pytest.raises(ConfigError, match=r"'cifar\.models': every entry is null"):
        validate_config(merged)


def test_the_corpus_of_a_language_model_must_exist(config, tmp_path):
    from signgeom.config import corpus_errors

    assert corpus_errors(config["cifar"], tmp_path) == []  # no charlm model: not read
    _with_transformer(config, architecture="transformer-tiny")
    (message,) = corpus_errors(config["cifar"], tmp_path)
    assert message.startswith("config key 'cifar.data.corpus': text file ")
    assert str(tmp_path / config["cifar"]["data"]["corpus"]) in message
    assert corpus_errors(config["cifar"], REPO) == []  # the committed corpus


@pytest.mark.parametrize("section", ["training", "smoothness"])
def test_channels_last_is_refused_for_a_model_without_image_inputs(config, section):
    """A text model under an NHWC layout fails at the config check, naming the key, not in
    its jobs; with both layouts NCHW the same config passes."""
    edited = merged_config(config, {})
    edited["cifar"]["models"]["lm"] = {
        "architecture": "transformer-tiny", "batch_size": 8, "epochs": 2,
        "selection_epoch": 2, "step_sizes": {"sgd": [0.1], "signsgd": [0.001]},
    }  # fmt: skip
    other = "smoothness" if section == "training" else "training"
    edited["cifar"][section]["channels_last"] = True
    edited["cifar"][other]["channels_last"] = False
    with pytest.raises(ConfigError, match=rf"'cifar\.{section}\.channels_last'.*\['lm'\]"):
        validate_config(edited)
    edited["cifar"][section]["channels_last"] = False
    validate_config(edited)
