"""The quadratic stage's settings (``signgeom.quadratic.settings``): built from the config, they
round-trip through the rule's JSON argument and the CLI flags, a changed config value reaches
them, and the CLIs take them."""

from __future__ import annotations

import argparse
import copy
import json

import numpy as np
import pytest

from signgeom.config import QUADRATIC_SETTINGS
from signgeom.quadratic import settings as qs
from signgeom.quadratic.hessians import HessianGrid, build_grid
from signgeom.quadratic.hessians import main as hessians_main
from signgeom.quadratic.problems import problem_spec, step_size_grids
from signgeom.quadratic.stochastic import log_grid
from signgeom.settings import Settings

PER_JOB = {qs.GridSettings: {"family": "one_outlier"}}
CLASSES = [qs.GridSettings, *QUADRATIC_SETTINGS]


def _of(cls: type[Settings], config: dict) -> Settings:
    return cls.from_config(config, **PER_JOB.get(cls, {}))


def _flags(settings: Settings) -> list[str]:
    """One command-line flag per field, as a user would type them (no ``--settings``)."""
    argv = []
    for name, value in settings.as_dict().items():
        if isinstance(value, tuple):  # tuple[T, ...]: one or more values
            values = [str(v) for v in value]
        else:
            values = [json.dumps(value) if isinstance(value, (list, dict)) else str(value)]
        argv += [f"--{name.replace('_', '-')}", *values]
    return argv


def _parse(cls: type[Settings], argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser()
    cls.add_arguments(parser)
    return cls.from_args(parser.parse_args(argv))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_settings_from_the_config_round_trip_through_json_and_flags(cls, config):
    settings = _of(cls, config)
    assert cls.from_json(settings.to_json()) == settings
    assert _parse(cls, ["--settings", settings.to_json()]) == settings
    assert _parse(cls, _flags(settings)) == settings
    for field, value in settings.as_dict().items():  # every configured value, none defaulted
        if field not in PER_JOB.get(cls, {}):
            meta = next(f for f in cls.fields() if f.name == field).metadata["signgeom"]
            node = config
            for part in meta["config"].split("."):
                node = node[part]
            assert value == (tuple(node) if isinstance(value, tuple) else node), field


def test_a_changed_config_value_reaches_the_settings_and_their_json(config):
    before = {cls: _of(cls, config) for cls in CLASSES}
    changed = copy.deepcopy(config)
    changed["quadratic"]["lambda_ratio"]["num"] = 7
    changed["quadratic"]["bootstrap"]["level"] = 0.8
    changed["two_d"]["angles_deg"] = [0, 60]
    changed["saddles"]["step_sizes"]["sign"] = 0.2
    changed["theory"]["noise"]["step_sizes"]["sgd"]["num"] = 5
    changed["seed"] = 3
    after = {cls: _of(cls, changed) for cls in CLASSES}
    assert after[qs.GridSettings].ratio_num == 7 and after[qs.GridSettings].seed == 3
    assert after[qs.SummarySettings].level == 0.8
    assert after[qs.TwoDSettings].angles_deg == (0.0, 60.0)
    assert after[qs.SaddleRunsSettings].step_sizes["sign"] == 0.2
    assert after[qs.MajoritySettings].step_sizes["sgd"]["num"] == 5
    assert after[qs.NoiseDimensionSettings].seed == after[qs.NoiseSummarySettings].seed == 3
    unchanged = {qs.SeparableSettings, qs.TubeSettings}
    for cls in CLASSES:  # the rule's argument changes with any of its values: the job reruns
        assert (before[cls].to_json() == after[cls].to_json()) == (cls in unchanged), cls
    # A flag next to --settings overrides it.
    grid = before[qs.GridSettings]
    assert _parse(qs.GridSettings, ["--settings", grid.to_json(), "--ratio-num", "7"]) == (
        qs.GridSettings.from_mapping({**grid.as_dict(), "ratio_num": 7})
    )


def test_a_missing_config_value_is_named():
    with pytest.raises(ValueError, match=r"RunsSettings needs values for \['starts'"):
        qs.RunsSettings.from_config({"quadratic": {"steps": 3}, "seed": 0})


def test_the_hessian_cli_builds_the_grid_of_its_settings(tmp_path):
    settings = qs.GridSettings(
        family="power_law",
        dim=4,
        theta_min=0.0,
        theta_max=1.0,
        theta_num=3,
        ratio_min=1.5,
        ratio_max=3.0,
        ratio_num=2,
        rotations=2,
        seed=5,
    )
    out = tmp_path / "h.npz"
    hessians_main(["--settings", settings.to_json(), "--out", str(out)])
    written = HessianGrid.load(out)
    expected = build_grid(4, np.linspace(0, 1, 3), np.array([1.5, 3.0]), 2, 5, "power_law")
    np.testing.assert_array_equal(written.hessians, expected.hessians)
    np.testing.assert_array_equal(written.thetas, [0.0, 0.5, 1.0])


def test_the_noise_settings_give_the_problem_and_the_grids(config):
    settings = qs.MajoritySettings.from_config(config)
    spec = problem_spec(settings)
    noise = config["theory"]["noise"]
    assert (spec.family, spec.runs, spec.seed) == (noise["family"], noise["runs"], config["seed"])
    grids = step_size_grids(settings)
    assert set(grids) == set(noise["step_sizes"])
    sgd = noise["step_sizes"]["sgd"]
    np.testing.assert_array_equal(grids["sgd"], log_grid(sgd["min"], sgd["max"], sgd["num"]))
