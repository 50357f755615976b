"""Shared command-line plumbing: logging set-up and clean error exits."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr (Snakemake redirects it to the rule's log file) with timestamps."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_cli(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None) -> int:
    """Run ``main``; turn expected errors (``ValueError``, ``FileNotFoundError``) into exit code 2.

    The message goes to stderr as ``error: ...`` without a traceback: it names the problem.
    """
    setup_logging()
    try:
        main(argv)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
