"""Write (or check) every generated block of README.md, docs/ and the reference READMEs.

A block is the text between ``<!-- KIND: ARG [key=value ...] -->`` and ``<!-- /KIND -->``
(a value with spaces is double-quoted); everything between the two markers is rewritten from
the block's source, so no verdict, number or setting in it is typed by hand. ``ARG`` is a path
relative to the file holding the block. Kinds:

- ``claims: <csv> [columns=a,b] [column=v,w]``: a verdict table. Its columns are csv columns or
  the composites ``claim``, ``statistic`` (with its threshold), ``value`` (with the interval
  over seeds), ``seeds`` (usable, and the minimum for a verdict), ``verdict``, ``probes`` (the
  verdicts under the other probe steps) and ``notes`` (excluded seeds, why there is no verdict,
  a selection at its grid's edge); all of them by default, in that order; unknown columns are
  refused.
- ``table: <csv> [column=v,w] [pivot=index:columns:values] [columns=a,b]``: any table; the
  options apply in that order (keep rows whose ``column`` is one of the values, spread
  ``values`` over ``columns`` with one row per ``index``, a column or several ``a,b``, keep
  and order columns). No expression is evaluated.
- ``excerpt: <text file> [start="s"] [end="e"] [only="a|b"]``: the file's lines verbatim in a
  code block, from the first line containing ``s`` up to (not including) the next line
  containing ``e`` (default: the next blank line; ``end="EOF"``: the end of the file), keeping
  only the lines that contain ``a`` or ``b`` when ``only`` is given.
- ``presets: <folder>``: one row per preset from its front comment (``#: runs:``, ``#: on:``,
  ``#: cost:``).
- ``config: <config.yaml>``: every key with its type, allowed values, default and help, from
  ``src/signgeom/config.schema.yaml`` and the comments of the config file.
- ``outputs: <Snakefile>``: every file the workflow puts in its report, from the rules'
  ``report()`` flags and the first sentence of each caption (``workflow/report/*.rst``).

    python tools/docs_gen.py           # rewrite every block
    python tools/docs_gen.py --check   # exit 1 when a block differs from its source
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
KINDS = ("claims", "table", "excerpt", "presets", "config", "outputs")
BLOCK = re.compile(
    r"(<!-- (?P<kind>" + "|".join(KINDS) + r"): (?P<path>\S+)(?P<options>[^>]*?) -->\n)"
    r"(?P<body>.*?)(<!-- /(?P=kind) -->)",
    re.S,
)
SCHEMA = REPO / "src/signgeom/config.schema.yaml"


def _number(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3g}"


def _cell(x) -> str:
    text = _number(x) if isinstance(x, float) else str(x)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table of already formatted cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def options(text: str) -> dict[str, str]:
    """``key=value`` pairs of a marker (values may be double-quoted), in order."""
    pairs = {}
    for item in shlex.split(text):
        if "=" not in item:
            raise ValueError(f"block option {item!r}: expected key=value")
        key, value = item.split("=", 1)
        pairs[key] = value
    return pairs


# -- tables ---------------------------------------------------------------------------------


def _interval(r: pd.Series) -> str:
    lo, hi = float(r["lo"]), float(r["hi"])
    if math.isfinite(lo) and math.isfinite(hi):
        return f"[{_number(lo)}, {_number(hi)}] ({r['level']:.0%})"
    return "(no interval)"


def _text(x) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)


def _seeds(r: pd.Series) -> str:
    minimum = r.get("min_seeds")
    return str(r["n_seeds"]) + ("" if minimum is None else f" (min {minimum})")


def _probe_options(r: pd.Series) -> str:
    """The verdict under each other probe option (``verdict_<option>``), with its value and
    usable seeds (``value_<option>``, ``n_seeds_<option>``) where it has a value."""
    cells = []
    for column in (c for c in r.index if c.startswith("verdict_")):
        option = column.removeprefix("verdict_")
        value, n = r.get(f"value_{option}"), r.get(f"n_seeds_{option}")
        shown = "" if value is None or pd.isna(value) else f" ({_number(float(value))}"
        if shown:
            shown += ")" if n is None or pd.isna(n) else f", {int(n)} seeds)"
        cells.append(f"{option}: {_text(r[column])}{shown}")
    return " / ".join(cells)


def _notes(r: pd.Series) -> str:
    """The claim's note (excluded seeds, why no verdict) and a selection at its grid's edge."""
    notes = [_text(r.get("note"))]
    if edge := _text(r.get("grid_edge")):
        notes.append(f"at grid edge: {edge}")
    return "; ".join(n for n in notes if n)


CLAIM_COLUMNS: dict[str, tuple[str, Callable[[pd.Series], str]]] = {
    "claim": ("claim", lambda r: str(r["statement"])),
    "statistic": ("statistic (threshold)", lambda r: f"{r['statistic']} ({r['threshold']})"),
    "value": ("value [interval]", lambda r: f"{_number(r['value'])} {_interval(r)}"),
    "seeds": ("seeds", _seeds),
    "verdict": ("verdict", lambda r: f"**{r['verdict']}**"),
    "probes": ("other probe steps", _probe_options),
    "notes": ("notes", lambda r: _cell(_notes(r))),
}


def filter_rows(table: pd.DataFrame, opts: dict[str, str]) -> pd.DataFrame:
    """Rows whose column (as text) is one of the listed values, for every option that is not
    ``pivot`` or ``columns``; an unknown column is refused."""
    for key, values in opts.items():
        if key in ("pivot", "columns"):
            continue
        if key not in table.columns:
            raise ValueError(f"table option {key}={values}: no column {key!r} in {list(table)}")
        table = table[table[key].astype(str).isin(values.split(","))]
    return table


def render_claims(claims: pd.DataFrame, opts: dict[str, str]) -> str:
    """A verdict table: composite columns (CLAIM_COLUMNS) or plain csv columns."""
    claims = filter_rows(claims, opts)
    names = opts.get("columns", ",".join(CLAIM_COLUMNS)).split(",")
    if missing := [n for n in names if n not in CLAIM_COLUMNS and n not in claims.columns]:
        raise ValueError(f"claims option columns: no columns {missing} in {list(claims)}")
    header = [CLAIM_COLUMNS[n][0] if n in CLAIM_COLUMNS else n for n in names]
    rows = [
        [CLAIM_COLUMNS[n][1](r) if n in CLAIM_COLUMNS else _cell(r[n]) for n in names]
        for _, r in claims.iterrows()
    ]
    return markdown(header, rows)


def select(table: pd.DataFrame, opts: dict[str, str]) -> pd.DataFrame:
    """``table`` after a table block's options (module docstring)."""
    table = filter_rows(table, opts)
    if "pivot" in opts:
        index, columns, values = opts["pivot"].split(":")
        table = table.pivot(index=index.split(","), columns=columns, values=values)
        table.columns = [f"{columns} {c}" for c in table.columns]
        table = table.reset_index()
    if "columns" in opts:
        names = opts["columns"].split(",")
        if missing := [n for n in names if n not in table.columns]:
            raise ValueError(f"table option columns={opts['columns']}: no columns {missing}")
        table = table[names]
    return table


def render_table(table: pd.DataFrame) -> str:
    """Any table as Markdown, numbers to 3 significant digits."""
    rows = [[_cell(x) for x in row] for row in table.itertuples(False)]
    return markdown([str(c) for c in table.columns], rows)


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


# -- excerpts of bench outputs ----------------------------------------------------------------


def excerpt(text: str, opts: dict[str, str]) -> str:
    """Lines of ``text`` from the first containing ``start`` to before the next containing
    ``end`` (default: a blank line), those containing a part of ``only`` if given, as a fenced
    code block."""
    lines = text.splitlines()
    first = 0
    if "start" in opts:
        hits = [i for i, line in enumerate(lines) if opts["start"] in line]
        if not hits:
            raise ValueError(f"excerpt start={opts['start']!r}: no such line")
        first = hits[0]
    end = opts.get("end", "")
    last = len(lines)
    if end != "EOF":
        for i in range(first + 1, len(lines)):
            if (end and end in lines[i]) or (not end and not lines[i].strip()):
                last = i
                break
    kept = lines[first:last]
    if "only" in opts:
        parts = opts["only"].split("|")
        kept = [line for line in kept if any(p in line for p in parts)]
        if not kept:
            raise ValueError(f"excerpt only={opts['only']!r}: no such line")
    body = "\n".join(line.rstrip() for line in kept)
    return f"```text\n{body}\n```\n"


# -- presets ----------------------------------------------------------------------------------

FRONT = re.compile(r"^#: (runs|on|cost): (.*)$")


def preset_front(path: Path) -> dict[str, str]:
    """A preset's front comment: ``#: runs: ...``, ``#: on: ...``, ``#: cost: ...``."""
    front: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if m := FRONT.match(line):
            front[m.group(1)] = (front.get(m.group(1), "") + " " + m.group(2)).strip()
    if missing := {"runs", "on", "cost"} - set(front):
        raise ValueError(f"{path}: front comment lacks {sorted(missing)} (#: <key>: <text>)")
    return front


def render_presets(folder: Path) -> str:
    """One row per preset: those on config.yaml first, then the ones that stack on others."""
    fronts = {path.stem: preset_front(path) for path in folder.glob("*.yaml")}
    order = sorted(fronts, key=lambda name: (fronts[name]["on"] != "config.yaml", name))
    rows = [[f"`{n}`", fronts[n]["runs"], fronts[n]["on"], fronts[n]["cost"]] for n in order]
    return markdown(["preset", "what it runs", "stacks on", "cost"], rows)


# -- config reference -------------------------------------------------------------------------

KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_]+):(?P<rest>.*)$")


def _comment(rest: str) -> str:
    """The comment of a YAML line's remainder (a ``#`` after whitespace, outside quotes)."""
    quote = None
    for i, ch in enumerate(rest):
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None and (i == 0 or rest[i - 1].isspace()):
            return rest[i + 1 :].strip()
    return ""


def config_comments(text: str) -> dict[str, str]:
    """``{dotted key: its comment}`` from a block-style YAML file: the comment on the key's line
    and the comment-only lines below it that are indented deeper than the key."""
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    current: tuple[str, int] | None = None
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("#"):
            if current and len(line) - len(stripped) > current[1]:
                key = current[0]
                comments[key] = (comments.get(key, "") + " " + stripped[1:].strip()).strip()
            else:
                current = None
            continue
        m = KEY_LINE.match(line)
        if not m:
            continue
        indent = len(m.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m.group("key")))
        key = ".".join(k for _, k in stack)
        comments[key] = _comment(m.group("rest"))
        current = (key, indent)
    return comments


def _resolve(node: dict, schema: dict) -> dict:
    """A schema node with ``$ref`` followed and ``allOf`` merged (properties merged too)."""
    node = dict(node)
    if "$ref" in node:
        target = schema
        for part in node.pop("$ref").lstrip("#/").split("/"):
            target = target[part]
        node = {**_resolve(target, schema), **node}
    for part in node.pop("allOf", []):
        part = _resolve(part, schema)
        props = {**part.get("properties", {})}
        for k, v in node.get("properties", {}).items():
            props[k] = {**props.get(k, {}), **v}
        for k, v in part.get("properties", {}).items():
            props[k] = {**node.get("properties", {}).get(k, {}), **v}
        node = {**node, **{k: v for k, v in part.items() if k != "properties"}}
        if props:
            node["properties"] = props
    return node


def _type(node: dict, schema: dict) -> str:
    for key in ("oneOf", "anyOf"):
        if key in node:
            return " or ".join(_type(_resolve(n, schema), schema) for n in node[key])
    if "enum" in node:
        return "one of"
    kind = node.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds and "items" in node:
        item = _type(_resolve(node["items"], schema), schema)
        kinds = [f"array of {item}" if k == "array" else k for k in kinds]
    return " or ".join(kinds)


def _allowed(node: dict, schema: dict) -> str:
    parts = []
    if "enum" in node:
        parts.append(", ".join(f"`{v}`" for v in node["enum"]))
    for key, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                    ("exclusiveMaximum", "<")):  # fmt: skip
        if key in node:
            parts.append(f"{op} {node[key]}")
    if "pattern" in node:
        parts.append(f"pattern `{node['pattern']}`")
    if "minItems" in node:
        parts.append(f"at least {node['minItems']} items")
    for key in ("oneOf", "anyOf"):
        for n in node.get(key, []):
            if sub := _allowed(_resolve(n, schema), schema):
                parts.append(sub)
    if "items" in node and (sub := _allowed(_resolve(node["items"], schema), schema)):
        parts.append(f"items {sub}")
    return "; ".join(parts)


def _default(value) -> str:
    if isinstance(value, dict):
        return ""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    text = text.removesuffix("\n...").removesuffix("...").strip()
    return f"`{text}`"


def config_rows(config: dict, schema: dict, comments: dict[str, str]) -> list[list[str]]:
    """One row per key of ``config`` (depth first), typed by ``schema``."""
    rows: list[list[str]] = []

    def walk(value, node: dict, key: str) -> None:
        node = _resolve(node, schema)
        help_ = " ".join(x for x in (node.get("description", ""), comments.get(key, "")) if x)
        rows.append(
            [f"`{key}`", _type(node, schema), _allowed(node, schema), _default(value), help_]
        )
        if isinstance(value, dict):
            props = node.get("properties", {})
            extra = node.get("additionalProperties")
            for k, v in value.items():
                child = props.get(k, extra if isinstance(extra, dict) else {})
                walk(v, child, f"{key}.{k}")

    root = _resolve(schema, schema)
    for k, v in config.items():
        walk(v, root.get("properties", {}).get(k, {}), k)
    return [[_cell(c) for c in row] for row in rows]


def render_config(path: Path) -> str:
    schema = yaml.safe_load(SCHEMA.read_text())
    text = path.read_text()
    rows = config_rows(yaml.safe_load(text), schema, config_comments(text))
    return markdown(["key", "type", "allowed", "default", "help"], rows)


# -- outputs ----------------------------------------------------------------------------------

JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
WILDCARD = re.compile(r"\{(\w+),[^{}]*\}")


def caption_sentence(text: str, words: int = 30) -> str:
    """The opening of a report caption's first paragraph (at most ``words`` words), Jinja
    expressions shown as ``…``."""
    first = JINJA.sub("…", text).split("\n\n")[0].replace("``", "`").replace("\\|", "|")
    tokens = first.split()
    return " ".join(tokens[:words]) + (" …" if len(tokens) > words else "")


def report_outputs(snakefile: Path) -> list[tuple[str, str, str, str]]:
    """``(path, rule, category, caption file)`` of every output the workflow reports."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, ResourceSettings, StorageSettings

    found = []
    with SnakemakeApi() as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(),
            config_settings=ConfigSettings(),
            storage_settings=StorageSettings(),
            snakefile=snakefile,
            workdir=snakefile.parent,
        )._workflow
        for rule in workflow.rules:
            for f in rule.output:
                if report := f.flags.get("report"):
                    category = " / ".join(c for c in (report.category, report.subcategory) if c)
                    caption = Path(report.caption.get_path_or_uri(secret_free=True))
                    found.append((WILDCARD.sub(r"{\1}", str(f)), rule.name, category, caption))
    return found


def render_outputs(snakefile: Path) -> str:
    """The report's files, one row per file (a figure's pdf and png in one row)."""
    merged: dict[tuple[str, str, str, Path], list[str]] = {}
    for path, rule, category, caption in report_outputs(snakefile):
        stem, _, ext = path.rpartition(".")
        figure = ext in ("pdf", "png")
        merged.setdefault((stem if figure else path, rule, category, caption), []).append(
            ext if figure else ""
        )
    rows = []
    for (name, rule, category, caption), exts in merged.items():
        shown = (
            f"{name}.{{{','.join(exts)}}}"
            if len(exts) > 1
            else name + (f".{exts[0]}" if exts[0] else "")
        )
        where = caption.resolve().relative_to(REPO)
        what = _cell(caption_sentence(caption.read_text()))
        rows.append([f"`{shown}`", f"`{rule}`", category, f"{what} (`{where}`)"])
    return markdown(["path", "rule", "report section", "what it holds"], rows)


# -- files ------------------------------------------------------------------------------------


def render_block(kind: str, path: Path, opts: dict[str, str]) -> str:
    if kind == "claims":
        return render_claims(read_csv(path), opts)
    if kind == "table":
        return render_table(select(read_csv(path), opts))
    if kind == "excerpt":
        return excerpt(path.read_text(), opts)
    if kind == "presets":
        return render_presets(path)
    if kind == "config":
        return render_config(path)
    return render_outputs(path)


def rewrite(text: str, folder: Path = REPO) -> str:
    """``text`` with every generated block re-rendered from its source (paths from ``folder``)."""

    def block(m: re.Match) -> str:
        path = (folder / m.group("path")).resolve()
        try:
            body = render_block(m.group("kind"), path, options(m.group("options")))
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"block <!-- {m.group('kind')}: {m.group('path')} -->: {e}") from e
        return m.group(1) + body + m.group(6)

    return BLOCK.sub(block, text)


def documents(repo: Path = REPO) -> list[Path]:
    """README.md, every page under docs/ and the reference runs' READMEs."""
    return [
        repo / "README.md",
        *sorted((repo / "docs").rglob("*.md")),
        *sorted(repo.glob("results/reference/*/README.md")),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a block is out of date")
    p.add_argument("files", type=Path, nargs="*", help="default: every document")
    a = p.parse_args(argv)
    stale = []
    for doc in a.files or documents():
        text = doc.read_text()
        try:
            new = rewrite(text, doc.resolve().parent)
        except ValueError as e:
            print(f"{doc}: {e}", file=sys.stderr)
            return 2
        if new == text:
            continue
        if a.check:
            stale.append(doc)
        else:
            doc.write_text(new)
    for doc in stale:
        print(f"{doc}: generated blocks differ from their sources; run python tools/docs_gen.py",
              file=sys.stderr)  # fmt: skip
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
