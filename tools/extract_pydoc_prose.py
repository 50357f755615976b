"""Extract the documentation prose of Python's ``pydoc_data/topics.py`` into one UTF-8 file.

``pydoc_data.topics.topics`` maps each help topic to its text (the Python documentation,
Python Software Foundation). The corpus is the topics' texts in sorted topic order, joined by
one newline. The file changes between Python versions, so the repository keeps one extracted
copy (``data/pydoc-prose/``) with its SHA-256; this script states how that copy was made.

    python tools/extract_pydoc_prose.py data/pydoc-prose/pydoc-prose.txt
"""

from __future__ import annotations

import argparse
import hashlib
import platform
from pathlib import Path


def extract() -> str:
    """The corpus: every topic's text, in sorted topic order, joined by a newline."""
    from pydoc_data.topics import topics

    return "\n".join(topics[name] for name in sorted(topics))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path, help="output text file (its SHA256SUMS is written beside)")
    args = p.parse_args(argv)
    text = extract()
    data = text.encode("utf-8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    (args.out.parent / "SHA256SUMS").write_text(f"{digest}  {args.out.name}\n")
    print(
        f"{args.out}: {len(text)} characters, {len(set(text))} distinct, sha256 {digest} "
        f"(Python {platform.python_version()})"
    )


if __name__ == "__main__":
    main()
