"""The workflow's decisions (signgeom.plan), without Snakemake: which runs, seeds, shards and
targets exist for config.yaml and the presets, layered as ``--configfile`` layers them; the
selection reader; the params helper (a changed setting changes the params Snakemake compares);
and the rules' structure (no helper functions or run-selection logic in the .smk files, every
rule's settings through that one helper)."""

from __future__ import annotations

import itertools
import json
import os
import re
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from signgeom.analysis.rotation_table import rotated_lr
from signgeom.analysis.settings import ClaimSettings
from signgeom.config import load_config_files, validate_config
from signgeom.estimate.estimate_settings import SmoothnessSettings
from signgeom.plan import Plan
from signgeom.plan.cifar import CHARLM_CORPUS, CIFAR_BATCHES, RUN_WILDCARDS, TRAJECTORY_WILDCARDS
from signgeom.plan.params import canonical_json, wildcard
from signgeom.training.run_settings import TrainSettings
from signgeom.training.runid import run_key

REPO = Path(__file__).resolve().parents[1]


def preset_config(*presets: str) -> dict:
    """config.yaml with the presets on top, validated, as the workflow gets it."""
    paths = [REPO / "config.yaml", *(REPO / "presets" / f"{p}.yaml" for p in presets)]
    config = load_config_files(*paths)
    validate_config(config)
    return config


def status_of(config: dict, model, optimizer, lr, seed, theta=0.0) -> str:
    """A run's status file from its settings' identity (signgeom.training.runid), built here
    field by field rather than through the plan."""
    settings = TrainSettings.from_config(
        config, model=model, optimizer=optimizer, lr=lr, seed=seed, rotation_theta=theta
    )
    return f"results/cifar/runs/{run_key(settings.identity())}/status.json"


def write_selection(config: dict, tmp_path: Path, pick=max) -> dict[str, Path]:
    """A selection table per model, choosing ``pick`` of each optimizer's grid."""
    paths = {}
    for model, spec in config["cifar"]["models"].items():
        path = tmp_path / f"{model}_step_sizes.csv"
        rows = [f"{opt},{pick(lrs)!r}" for opt, lrs in spec["step_sizes"].items()]
        path.write_text("optimizer,lr\n" + "\n".join(rows) + "\n")
        paths[model] = path
    return paths


def selected_plan(config: dict, tmp_path: Path, pick=max) -> Plan:
    tables = write_selection(config, tmp_path, pick)
    return Plan(config, selection=lambda model: tables[model])


PRESETS = [("quick",), ("subset", "subset-repeats"), ("subset", "cpu-beyond", "cpu-beyond-repeats")]


@pytest.mark.parametrize("presets", [(), *PRESETS])
def test_the_grid_is_every_step_size_on_every_selection_seed(presets):
    config = preset_config(*presets)
    cifar = Plan(config).cifar
    models = config["cifar"]["models"]
    seeds = config["cifar"].get("selection_seeds") or config["cifar"]["seeds"]
    expected = [
        status_of(config, model, opt, lr, seed)
        for model, spec in models.items()
        for opt, lrs in spec["step_sizes"].items()
        for lr in lrs
        for seed in seeds
    ]
    size = sum(len(lrs) for spec in models.values() for lrs in spec["step_sizes"].values())
    assert len(expected) == size * len(seeds)
    assert cifar.grid_runs() == expected
    assert len(set(cifar.grid_runs())) == len(expected)  # one directory per run
    assert cifar.grid_runs() == [s for m in models for s in cifar.model_runs(m)]


def test_the_quick_preset_grid():
    """3 models (the CNN, ResNet20, a tiny transformer) x 2 optimizers x 2 step sizes on seed
    0: 12 runs, each named by its settings."""
    cifar = Plan(preset_config("quick")).cifar
    runs = cifar.grid_runs()
    assert len(runs) == 12
    assert all(
        re.fullmatch(r"results/cifar/runs/[\w-]+/\w+/lr[0-9.e-]+_seed0_[0-9a-f]{10}/status.json", r)
        for r in runs
    )
    assert {r.split("/")[3] for r in runs} == {"cnn", "resnet20", "transformer-tiny"}


def test_selection_seeds_default_to_the_seeds_and_the_first_seed_is_the_first():
    repeats = Plan(preset_config("subset", "subset-repeats")).cifar
    assert repeats.seeds == [1, 2] and repeats.selection_seeds == [1, 2]
    config = preset_config("subset", "subset-repeats")
    config["cifar"]["seeds"] = [3, 1, 2]
    config["cifar"]["selection_seeds"] = [1]
    cifar = Plan(config).cifar
    assert (cifar.seeds, cifar.selection_seeds, cifar.first_seed) == ([3, 1, 2], [1], 3)
    # the grid only on the selection seeds; the selected runs on every seed
    assert {int(re.search(r"_seed(\d+)_", r)[1]) for r in cifar.grid_runs()} == {1}


@pytest.mark.parametrize("presets", PRESETS)
def test_the_selected_runs_are_the_selected_step_size_on_every_seed(presets, tmp_path):
    config = preset_config(*presets)
    plan = selected_plan(config, tmp_path, pick=min)
    models = config["cifar"]["models"]
    seeds = config["cifar"]["seeds"]
    expected = [
        status_of(config, model, opt, min(lrs), seed)
        for model, spec in models.items()
        for opt, lrs in spec["step_sizes"].items()
        for seed in seeds
    ]
    assert plan.cifar.selected_runs() == expected
    # a job's selected run: its seed wildcard, or the first seed where the rule has none
    model, opt = next(iter(models)), next(iter(models[next(iter(models))]["step_sizes"]))
    lr = min(models[model]["step_sizes"][opt])
    job = SimpleNamespace(model=model, optimizer=opt, seed=str(seeds[-1]))
    assert plan.cifar.selected_run(job) == status_of(config, model, opt, lr, seeds[-1])
    first = SimpleNamespace(model=model, optimizer=opt)
    assert plan.cifar.selected_run(first) == status_of(config, model, opt, lr, seeds[0])


@pytest.mark.parametrize("presets", [("quick",), ("subset", "cpu-beyond"), PRESETS[2]])
def test_the_rotation_sweep(presets, tmp_path):
    """models x optimizers x seeds x thetas x factors runs; at theta 0 the plain run's path, at
    factor 1 the selected step size; the rotated runs' estimate shards."""
    config = preset_config(*presets)
    plan = selected_plan(config, tmp_path)
    rot, seeds = config["cifar"]["rotation"], config["cifar"]["seeds"]
    runs = plan.rotation.runs()
    grid = list(itertools.product(rot["models"], rot["optimizers"], seeds, rot["thetas"]))
    assert len(runs) == len(grid) * len(rot["lr_factors"])
    assert len(set(runs)) == len(runs)
    selected = set(plan.cifar.selected_runs())
    for (model, opt, seed, theta), factor in itertools.product(grid, rot["lr_factors"]):
        lr = rotated_lr(plan.cifar.selected_lr(model, opt), factor)
        status = status_of(config, model, opt, lr, seed, float(theta))
        assert status in runs
        assert ("_theta" in status) == (theta != 0)
        if theta == 0 and factor == 1:
            assert status in selected  # the plain selected run, trained once
    shards = plan.rotation.smoothness_shards()
    rotated = [t for t in rot["thetas"] if t != 0]
    n_shards = config["cifar"]["smoothness"]["shards"]
    assert (
        len(shards)
        == len(rot["models"]) * len(rot["optimizers"]) * len(seeds) * len(rotated) * n_shards
    )
    assert all(re.search(r"/theta[0-9.]+/shard\d+\.csv$", s) for s in shards)
    # theta 0 reads Figure 3's shards of the sweep's models and optimizers, and no other's
    plain = plan.rotation.plain_smoothness_shards()
    assert set(plain) <= set(plan.cifar.smoothness_shards())
    assert len(plain) == len(rot["models"]) * len(rot["optimizers"]) * len(seeds) * n_shards
    assert {tuple(p.split("/")[-4:-2]) for p in plain} == set(
        itertools.product(rot["models"], rot["optimizers"])
    )
    assert plan.rotation.selection_tables() == [
        f"results/cifar/{model}/step_sizes.csv" for model in rot["models"]
    ]
    job = SimpleNamespace(
        model=rot["models"][0],
        optimizer=rot["optimizers"][0],
        seed="1",
        theta=repr(float(rotated[0])),
    )
    lr = plan.cifar.selected_lr(job.model, job.optimizer)
    assert plan.rotation.selected_run(job) == status_of(
        config, job.model, job.optimizer, lr, 1, rotated[0]
    )


@pytest.mark.parametrize("presets", [(), *PRESETS])
def test_estimate_targets(presets):
    config = preset_config(*presets)
    cifar = Plan(config).cifar
    c = config["cifar"]
    n_opt = {m: len(spec["step_sizes"]) for m, spec in c["models"].items()}
    shards = cifar.smoothness_shards()
    assert len(shards) == sum(n_opt.values()) * len(c["seeds"]) * c["smoothness"]["shards"]
    indexes = {int(re.search(r"shard(\d+)\.csv$", s)[1]) for s in shards}
    assert indexes == set(range(c["smoothness"]["shards"]))
    assert len(cifar.sensitivity_tables()) == sum(n_opt[m] for m in c["sensitivity"]["models"])
    for name in ("epochs", "blocks", "density"):
        tables = cifar.hessian_tables(name)
        assert len(tables) == sum(n_opt[m] for m in c["hessian"]["models"])
        assert all(t.endswith(f"/{name}.csv") for t in tables)
    blocks = cifar.hessian_block_tables()
    assert len(blocks) == sum(n_opt[m] for m in c["hessian"]["models"]) * len(c["seeds"])
    assert len(set(blocks)) == len(blocks) and all(b.endswith("/param_blocks.csv") for b in blocks)
    for model in c["hessian"]["models"]:
        assert len(cifar.hessian_block_tables([model])) == n_opt[model] * len(c["seeds"])
    family = [m for m, spec in c["models"].items() if set(spec["step_sizes"]) - {"sgd", "signsgd"}]
    assert cifar.family_models == family
    assert len(cifar.similarity_tables()) == sum(n_opt[m] for m in family) * len(c["seeds"])


def _with_options(config: dict, options: list[str]) -> dict:
    changed = json.loads(json.dumps(config))
    changed["cifar"]["smoothness"]["robustness_probe_steps"] = options
    validate_config(changed)
    return changed


@pytest.mark.parametrize("presets", [(), ("quick",)])
def test_robustness_shards_are_one_level_below_the_headline_ones_which_stay_put(presets):
    config = _with_options(preset_config(*presets), [])
    plain = Plan(config).cifar
    assert plain.robustness_shards() == []
    assert not re.fullmatch(plain.probe_option_regex(), "heavy_ball")  # no option: no rule
    config["cifar"]["smoothness"]["probe_radius"] = 0.5
    both = Plan(_with_options(config, ["heavy_ball", "radius"])).cifar
    headline = both.smoothness_shards()
    assert headline == plain.smoothness_shards()  # the headline's paths do not move
    extra = both.robustness_shards()
    assert len(extra) == 2 * len(headline) and not set(extra) & set(headline)
    for option in ("heavy_ball", "radius"):
        mine = [s for s in extra if f"/probe-{option}/" in s]
        # each headline shard has its twin one level below, named by the option
        assert sorted(s.replace(f"probe-{option}/", "") for s in mine) == sorted(headline)
        assert re.fullmatch(both.probe_option_regex(), option)
    assert not re.fullmatch(both.probe_option_regex(), "raw")
    # the rotation sweep reads the headline shards only
    assert set(Plan(config).rotation.plain_smoothness_shards()) <= set(headline)


def test_a_probe_shard_job_is_the_headline_job_with_its_probe_step():
    config = _with_options(preset_config("quick"), ["heavy_ball"])
    plan = Plan(config)
    job = SimpleNamespace(model="cnn", optimizer="sgd", shard="0", probe_step="heavy_ball")
    probe = plan.params(
        SmoothnessSettings, **TRAJECTORY_WILDCARDS, shard=wildcard("shard", int),
        probe_step=wildcard("probe_step"),
    )["settings"](job)  # fmt: skip
    headline = plan.params(
        SmoothnessSettings, **TRAJECTORY_WILDCARDS, shard=wildcard("shard", int)
    )["settings"](job)
    assert json.loads(probe) == {**json.loads(headline), "probe_step": "heavy_ball"}
    # listing an option leaves the headline job's settings (its rerun trigger) unchanged
    before = Plan(_with_options(preset_config("quick"), [])).params(
        SmoothnessSettings, **TRAJECTORY_WILDCARDS, shard=wildcard("shard", int)
    )["settings"](job)
    assert before == headline


def test_the_sign_family_preset_has_family_targets():
    cifar = Plan(preset_config("subset", "cpu-beyond")).cifar
    assert cifar.family_models == ["cnn"]
    assert "results/cifar/similarity/cnn/muon/seed0.csv" in cifar.similarity_tables()


def test_the_selection_table_is_read_again_when_it_changes(tmp_path):
    config = preset_config("quick")
    path = tmp_path / "cnn.csv"
    path.write_text("optimizer,lr\nsgd,0.01\nsignsgd,0.0001\n")
    cifar = Plan(config, selection=lambda model: path).cifar
    assert cifar.selected_lr("cnn", "sgd") == 0.01
    path.write_text("optimizer,lr\nsgd,0.03\nsignsgd,0.0003\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert cifar.selected_lr("cnn", "sgd") == 0.03


def test_a_selection_without_the_optimizer_names_the_file_and_the_key(tmp_path):
    config = preset_config("quick")
    path = tmp_path / "cnn.csv"
    path.write_text("optimizer,lr\nsgd,0.01\n")
    cifar = Plan(config, selection=lambda model: path).cifar
    with pytest.raises(ValueError, match=r"selects no step size for optimizer 'signsgd'") as err:
        cifar.selected_lr("cnn", "signsgd")
    assert str(path) in str(err.value) and "cifar.models.cnn.step_sizes" in str(err.value)
    with pytest.raises(ValueError, match="no selection table"):
        Plan(config).cifar.selected_lr("cnn", "sgd")


# The params helper -----------------------------------------------------------------------


def snakemake_view(params: dict, wildcards) -> set[str]:
    """What Snakemake's params rerun trigger compares: the set of the values, names dropped."""
    return {json.dumps(v(wildcards) if callable(v) else v) for v in params.values()}


def test_plain_values_get_a_json_that_changes_when_two_values_swap():
    config = preset_config("quick")
    plan, job = Plan(config), SimpleNamespace()
    before = plan.params(epochs=1, stride=2)
    after = plan.params(epochs=2, stride=1)
    assert {before["epochs"], before["stride"]} == {after["epochs"], after["stride"]}
    assert snakemake_view(before, job) != snakemake_view(after, job)
    assert before["settings"](job) == canonical_json({"epochs": 1, "stride": 2})
    # one value: its own param already changes exactly when it does
    assert plan.params(level=0.9) == {"level": 0.9}


def test_settings_params_are_the_settings_json_of_the_job():
    config = preset_config("quick")
    plan = Plan(config)
    job = SimpleNamespace(model="cnn", optimizer="signsgd", shard="0")
    params = plan.params(SmoothnessSettings, **TRAJECTORY_WILDCARDS, shard=wildcard("shard", int))
    assert list(params) == ["settings"]
    expected = SmoothnessSettings.from_config(
        config, model="cnn", trajectory_optimizer="signsgd", shard=0
    )
    assert params["settings"](job) == expected.to_json()
    # a changed config value changes the job's param
    changed = preset_config("quick")
    changed["cifar"]["smoothness"]["n_examples"] = 64
    again = Plan(changed).params(
        SmoothnessSettings, **TRAJECTORY_WILDCARDS, shard=wildcard("shard", int)
    )
    assert again["settings"](job) != params["settings"](job)
    # a Settings class among plain values stands for its JSON from the config
    mixed = plan.params(models=["cnn"], claims=ClaimSettings)
    assert mixed["claims"](job) == ClaimSettings.from_config(config).to_json()


def test_the_training_param_is_the_run_settings_of_its_wildcards():
    config = preset_config("quick")
    plan = Plan(config)
    params = plan.params(plan.cifar.train_settings, **RUN_WILDCARDS)
    plain = SimpleNamespace(model="cnn", optimizer="sgd", lr="0.01", seed="0", run_id="x")
    rotated = SimpleNamespace(**vars(plain), theta="1.0")
    settings = TrainSettings.from_json(params["settings"](plain))
    assert settings == TrainSettings.from_config(
        config, model="cnn", optimizer="sgd", lr=0.01, seed=0
    )
    assert TrainSettings.from_json(params["settings"](rotated)).rotation_theta == 1.0


# The rules' structure --------------------------------------------------------------------

RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk")) + [REPO / "Snakefile"]
RULE = re.compile(r"^(?:rule|checkpoint|use rule) .*?:\n((?:[ \t]+.*\n|\n)*)", re.M)
SECTION = re.compile(r"^    (\w+):(.*)\n((?:        .*\n|\n)*)", re.M)
# A param derived from the job's input or output paths (Snakemake leaves these out of its
# rerun trigger: the paths are already compared).
DERIVED = re.compile(r"^\w+=lambda wc, (?:input|output): ")


def rule_sections() -> list[tuple[str, str, dict[str, str]]]:
    out = []
    for path in RULE_FILES:
        for match in RULE.finditer(path.read_text()):
            head = match.group(0).splitlines()[0]
            sections = {
                m[1]: (m[2].strip() + "\n" + textwrap.dedent(m[3])).strip()
                for m in SECTION.finditer(match[1])
            }
            out.append((path.name, head, sections))
    return out


def test_the_rule_files_hold_no_functions():
    for path in RULE_FILES:
        assert not re.search(r"^\s*def ", path.read_text(), re.M), f"{path.name} defines a function"


def test_rules_hold_no_run_selection_logic():
    """Every list of jobs a rule depends on comes from the plan: no comprehension in a rule's
    input or params (its outputs may list a figure's file types)."""
    found = [
        (name, head, key)
        for name, head, sections in rule_sections()
        for key, text in sections.items()
        if key in ("input", "params") and re.search(r"\bfor\b.+\bin\b", text)
    ]
    assert not found


def test_every_rule_takes_its_settings_through_the_one_params_helper():
    """A rule's params are the plan's params (settings JSON, or flags plus their JSON) or
    derived from its paths; its command reads no config value directly."""
    rules = rule_sections()
    assert len(rules) > 30
    checked = 0
    for name, head, sections in rules:
        for key in ("shell", "run"):
            assert "config[" not in sections.get(key, ""), (name, head)
        if "params" not in sections:
            continue
        entries = [e.strip() for e in re.split(r",\n(?=[\w*])", sections["params"].strip()) if e]
        helper = [e for e in entries if e.startswith("**PLAN.params(")]
        others = [e for e in entries if not e.startswith("**PLAN.params(")]
        assert len(helper) == 1, (name, head, entries)
        assert all(DERIVED.match(e) for e in others), (name, head, others)
        checked += 1
    assert checked > 20


def test_the_training_rules_output_pattern_names_every_planned_run(tmp_path):
    """Each planned status file matches the training rules' output pattern, whose wildcards
    give back the run's settings (Snakemake matches the requested file against that output)."""
    config = preset_config("subset", "cpu-beyond")
    plan = selected_plan(config, tmp_path)
    matched = {False: 0, True: 0}
    for rotated, runs in ((False, plan.cifar.grid_runs()), (True, plan.rotation.runs())):
        pattern = re.escape(plan.cifar.status_pattern(rotated))
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+?)", pattern)
        for status in runs:
            if ("_theta" in status) != rotated:
                continue
            job = SimpleNamespace(**re.fullmatch(regex, status).groupdict())
            theta = float(getattr(job, "theta", 0.0))
            assert (
                plan.cifar.run_status(job.model, job.optimizer, job.lr, job.seed, theta) == status
            )
            matched[rotated] += 1
    assert matched[False] == len(plan.cifar.grid_runs()) and matched[True] > 0


def test_each_model_reads_its_tasks_data_and_the_transformer_models_sort_by_batch():
    """CIFAR models read the batches directory, a charlm model the copy of the corpus, both in
    the working directory; the batch-size axis in order."""
    quick = Plan(preset_config("quick")).cifar
    assert quick.data_input(SimpleNamespace(model="cnn")) == CIFAR_BATCHES
    assert quick.data_input(SimpleNamespace(model="transformer-tiny")) == CHARLM_CORPUS
    config = preset_config("transformer")
    config["cifar"]["models"] = {k: v for k, v in config["cifar"]["models"].items() if v}
    lm = Plan(config).cifar
    models = lm.models_of_task("charlm")
    assert models == ["transformer-b8", "transformer-b128"]
    assert lm.batch_sizes(models) == [8, 128]
    assert lm.network(SimpleNamespace(model="transformer-b128")) == "transformer-cpu"
    assert not lm.figure3_claims and quick.figure3_claims
    # claim t5: every selected trajectory of both transformer models on every seed
    tables = lm.hessian_block_tables(models)
    assert len(tables) == 2 * 3 * len(config["cifar"]["seeds"])
    assert "results/cifar/hessian/transformer-b8/adam/seed2/param_blocks.csv" in tables
