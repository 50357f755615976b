"""Config files: duplicate keys, aliases and unknown tags are refused, naming the file and
line (the workflow's use of this loader: test_workflow_refusals.py)."""

from __future__ import annotations

import time

import pytest

from signgeom.cli import run_cli
from signgeom.config import ConfigError, load_config_files, validate_config
from signgeom.config_files import ConfigFileError, main, read_config_file
from signgeom.workflow import REPO


def alias_bomb(levels: int) -> str:
    """``levels`` nested lists of ten aliases each: 10^levels leaves once expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("seed: 1\ncifar:\n  seeds: [0]\nseed: 2\n", r"line 4: duplicate key 'seed' .*line 1"),
        ("cifar: {seeds: [0], seeds: [1]}\n", r"line 1: duplicate key 'seeds'"),
        ("seed: !!python/object:os.system {}\n", r"line 1: YAML tag !!python/object:os\.system"),
        ("seed: !custom 3\n", r"line 1: YAML tag !custom refused"),
        ("a: &x [1]\nb: *x\n", r"line 2: YAML alias \*x refused"),
        ("- 1\n- 2\n", r"must be a mapping"),
    ],
)
def test_a_config_file_that_would_lie_is_refused_naming_file_and_line(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigFileError, match=message) as caught:
        load_config_files(REPO / "config.yaml", path)
    assert str(path) in str(caught.value)
    assert "tab" not in str(caught.value)


def test_a_nine_level_alias_bomb_is_refused_at_once(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(9))
    start = time.perf_counter()
    with pytest.raises(ConfigFileError, match=r"bomb\.yaml, line 2: YAML alias \*a0"):
        read_config_file(path)
    assert time.perf_counter() - start < 0.5


def test_plain_files_read_as_before(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: {b: [1, 2.5e-3, .inf, null, yes]}\nc: '*not an alias'\n")
    assert read_config_file(path) == {"a": {"b": [1, 0.0025, float("inf"), None, True]},
                                      "c": "*not an alias"}  # fmt: skip
    (tmp_path / "empty.yaml").write_text("")
    assert read_config_file(tmp_path / "empty.yaml") == {}


class _Tripwire(list):
    """A list that fails the test when anything walks it."""

    def __iter__(self):
        raise AssertionError("the value of an unknown key was walked")


def test_the_value_of_an_unknown_key_is_not_walked(config):
    config["cifar"]["huge"] = _Tripwire([1.0])
    with pytest.raises(ConfigError, match=r"'cifar\.huge': unknown key"):
        validate_config(config)


def test_the_command_names_what_snakemake_cannot(tmp_path, capsys):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("cifar:\n  seeds: [0, 1]\n")
    bad.write_text("cifar:\n  seeds: !!python/object:os.system [0]\n")
    assert run_cli(main, [str(good)]) == 0
    assert f"ok: {good}" in capsys.readouterr().out
    assert run_cli(main, [str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml, line 2" in err and "!!python/object:os.system" in err
