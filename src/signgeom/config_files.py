"""Reading config files: YAML's safe subset, stricter where a config file could lie or hang.

Refused, with the file and line named: a key given twice in one mapping (YAML keeps the last
silently), any alias (``*name``; a few nested aliases expand to billions of nodes), and any tag
outside YAML's standard types (``!!python/object``, ``!custom``). A config file is a mapping
at its top level (an empty file is an empty mapping).

    python -m signgeom.config_files presets/a.yaml my.yaml   # exit 2 naming the first problem

Snakemake reads ``--configfile`` with its own loader before the workflow runs, and answers a
file it cannot read with a generic message; this command names the file, line and problem.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from signgeom.cli import run_cli


class ConfigFileError(ValueError):
    """A config file cannot be read as plain data; the message names the file and line."""


def _where(path: str, mark: yaml.Mark | None) -> str:
    return f"{path}, line {mark.line + 1}" if mark is not None else path


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` refusing aliases, duplicate keys and unknown tags."""

    path = "<config>"

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConfigFileError(
                f"{_where(self.path, event.start_mark)}: YAML alias *{event.anchor} refused; "
                "config files may not use anchors and aliases (write the values out)"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeConstructor's own error names it
                break
            if first is not None:
                raise ConfigFileError(
                    f"{self.path}, line {line}: duplicate key {key!r} (first given on line "
                    f"{first}); YAML would keep only the last value"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_undefined(self, node: yaml.Node) -> Any:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise ConfigFileError(
            f"{_where(self.path, node.start_mark)}: YAML tag {tag} refused; a config "
            "file holds only plain values (mappings, lists, strings, numbers, booleans, null)"
        )


_StrictLoader.add_constructor(None, _StrictLoader.construct_undefined)


def read_config_file(path: str | Path) -> dict:
    """The mapping in the YAML file ``path`` (module docstring: what is refused)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigFileError(f"{path}: cannot read config file ({err})") from err
    loader = _StrictLoader(text)
    loader.path = str(path)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as err:
        raise ConfigFileError(f"{path}: not valid YAML: {err}") from err
    finally:
        loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"{path}: a config file must be a mapping of keys at its top level, "
            f"not a {type(data).__name__}"
        )
    return data


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Check config files the way the workflow reads them.")
    p.add_argument("files", nargs="+", type=Path, help="YAML config files")
    for path in p.parse_args(argv).files:
        read_config_file(path)
        print(f"ok: {path}")


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
