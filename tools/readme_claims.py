"""Write (or check) the READMEs' claims tables from the committed claims files.

Every block of a README between ``<!-- claims: <path> -->`` and ``<!-- /claims -->`` is the
rendering of the claims table at ``<path>`` (relative to that README's folder), and every block
between ``<!-- table: <path> [options] -->`` and ``<!-- /table -->`` that of any other table, so
no verdict or number in those blocks is typed by hand. Table options, applied in this order:
``column=a,b`` keeps the rows whose ``column`` (as text) is one of ``a``, ``b``;
``pivot=index:columns:values`` spreads ``values`` over ``columns`` (one row per ``index``);
``columns=a,b`` keeps and orders those columns. No expression is evaluated. The READMEs:
README.md and every ``results/reference/*/README.md``.

    python tools/readme_claims.py           # rewrite the blocks
    python tools/readme_claims.py --check   # exit 1 when a block differs from its file
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(
    r"(<!-- (?P<kind>claims|table): (?P<path>\S+)(?P<options>(?: [^ =>]+=[^ >]+)*) -->\n)"
    r"(?P<body>.*?)(<!-- /(?P=kind) -->)",
    re.S,
)


def _number(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3g}"


def _text(x) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)


def render(claims: pd.DataFrame) -> str:
    """A Markdown table: claim, statistic, value with interval, seeds (usable / minimum),
    verdict, the verdicts under the other probe options, notes (excluded seeds, the reason for
    no verdict, selections at their grid's edge)."""
    options = [c.removeprefix("verdict_") for c in claims.columns if c.startswith("verdict_")]
    lines = [
        "| claim | statistic (threshold) | value [interval] | seeds | verdict | "
        + (f"{' / '.join(options)} | " if options else "")
        + "notes |",
        "|---|---|---|---|---|" + ("---|" if options else "") + "---|",
    ]
    for r in claims.to_dict("records"):
        finite = all(isinstance(r[k], float) and math.isfinite(r[k]) for k in ("lo", "hi"))
        interval = f"[{_number(r['lo'])}, {_number(r['hi'])}] ({r['level']:.0%})" if finite else (
            "(no interval)")  # fmt: skip
        seeds = f"{r['n_seeds']}" + (f" (min {r['min_seeds']})" if "min_seeds" in r else "")
        notes = [_text(r.get("note"))]
        if edge := _text(r.get("grid_edge")):
            notes.append(f"at grid edge: {edge}")
        row = (
            f"| {r['statement']} | {r['statistic']} ({r['threshold']}) "
            f"| {_number(r['value'])} {interval} | {seeds} | **{r['verdict']}** |"
        )
        if options:
            row += " " + " / ".join(_text(r[f"verdict_{o}"]) for o in options) + " |"
        lines.append(row + f" {'; '.join(n for n in notes if n)} |")
    return "\n".join(lines) + "\n"


def render_table(table: pd.DataFrame) -> str:
    """Any table as Markdown, numbers to 3 significant digits."""

    def cell(x) -> str:
        return _number(x) if isinstance(x, float) else str(x)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines) + "\n"


def select(table: pd.DataFrame, options: str) -> pd.DataFrame:
    """``table`` after a block's options (module docstring); unknown columns are refused."""
    pairs = [item.split("=", 1) for item in options.split()]
    filters = [(k, v) for k, v in pairs if k not in ("pivot", "columns")]
    for key, values in filters:
        if key not in table.columns:
            raise ValueError(f"table option {key}={values}: no column {key!r} in {list(table)}")
        table = table[table[key].astype(str).isin(values.split(","))]
    for key, value in pairs:
        if key == "pivot":
            index, columns, values = value.split(":")
            table = table.pivot(index=index, columns=columns, values=values)
            table.columns = [f"{columns} {c}" for c in table.columns]
            table = table.reset_index()
    for key, value in pairs:
        if key == "columns":
            names = value.split(",")
            if missing := [n for n in names if n not in table.columns]:
                raise ValueError(f"table option columns={value}: no columns {missing}")
            table = table[names]
    return table


def rewrite(readme: str, repo: Path = REPO) -> str:
    """README text with every claims and table block re-rendered from its file."""

    def block(m: re.Match) -> str:
        table = pd.read_csv(repo / m.group("path"), keep_default_na=False, na_values=[""])
        if m.group("kind") == "claims":
            body = render(table)
        else:
            body = render_table(select(table, m.group("options")))
        return m.group(1) + body + m.group(6)

    return BLOCK.sub(block, readme)


def readmes(repo: Path = REPO) -> list[Path]:
    """README.md and the reference runs' READMEs."""
    return [repo / "README.md", *sorted(repo.glob("results/reference/*/README.md"))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a README is out of date")
    p.add_argument("--readme", type=Path, nargs="+", default=None, help="default: all")
    a = p.parse_args(argv)
    stale = []
    for readme in a.readme or readmes():
        text = readme.read_text()
        new = rewrite(text, readme.resolve().parent)
        if new == text:
            continue
        if a.check:
            stale.append(readme)
        else:
            readme.write_text(new)
    for readme in stale:
        print(f"{readme}: claims tables differ from the claims files; run "
              "python tools/readme_claims.py", file=sys.stderr)  # fmt: skip
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
