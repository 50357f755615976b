"""Shared command-line plumbing: logging set-up and clean error exits."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence


def optional_int(s: str) -> int | None:
    """Flag type: ``none`` (the config's null) or an integer."""
    return None if s.lower() == "none" else int(s)


def optional_float(s: str) -> float | None:
    """Flag type: ``none`` (the config's null) or a number."""
    return None if s.lower() == "none" else float(s)


def boolean(s: str) -> bool:
    """Flag type: ``true`` or ``false`` (as the workflow writes the config's booleans)."""
    if s.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")
    return s.lower() == "true"


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr (Snakemake redirects it to the rule's log file) with timestamps."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_cli(
    main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None
) -> int:
    """Run ``main`` and return its exit status (``None``: 0); logging is set up here, once.

    Expected errors (``ValueError``, ``FileNotFoundError``, ``KeyError``) exit with status 2 and
    ``error: ...`` on stderr, without a traceback: the message names the problem.
    """
    setup_logging()
    try:
        code = main(argv)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0 if code is None else code
