"""Shared command-line plumbing: logging set-up, clean error exits and SIGTERM handling."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

TERMINATED_EXIT = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM arrived (preemption, ``scancel``, Snakemake stopping its jobs).

    A ``BaseException``, so that no ``except Exception`` swallows it: it unwinds through every
    ``finally``, and ``signgeom.io.atomic_output`` deletes its half-written temporary file.
    """


def optional_int(s: str) -> int | None:
    """Flag type: ``none`` (the config's null) or an integer."""
    return None if s.lower() == "none" else int(s)


def optional_float(s: str) -> float | None:
    """Flag type: ``none`` (the config's null) or a number."""
    return None if s.lower() == "none" else float(s)


def optional_path(s: str) -> Path | None:
    """Flag type: ``none`` (the config's null) or a path."""
    return None if s.lower() == "none" else Path(s)


def boolean(s: str) -> bool:
    """Flag type: ``true`` or ``false`` (as the workflow writes the config's booleans)."""
    if s.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")
    return s.lower() == "true"


def _same_stream(a, b) -> bool:
    try:
        return os.path.samestat(os.fstat(a.fileno()), os.fstat(b.fileno()))
    except (OSError, ValueError, AttributeError):
        return False


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr (Snakemake redirects it to the rule's log file) with timestamps; warnings
    and errors also to stdout, which a local Snakemake run shows on the console (unless stdout
    is stderr already)."""
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if not _same_stream(sys.stdout, sys.stderr):
        handlers.append(logging.StreamHandler(sys.stdout))
        handlers[-1].setLevel(logging.WARNING)
    for handler in handlers:
        handler.setFormatter(fmt)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers)


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """While active, SIGTERM raises ``Terminated`` in the main thread (later ones are ignored,
    so the unwinding finishes); the previous handler is restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_cli(
    main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None
) -> int:
    """Run ``main`` and return its exit status (``None``: 0); logging is set up here, once.

    Expected errors (``ValueError``, ``FileNotFoundError``, ``KeyError``) exit with status 2 and
    ``error: ...`` on stderr, without a traceback: the message names the problem. SIGTERM
    unwinds ``main`` (temporary files are removed) and exits with status 143.
    """
    setup_logging()
    try:
        with sigterm_raises():
            code = main(argv)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Terminated:
        log.warning("terminated by SIGTERM; partial writes removed, a rerun resumes")
        return TERMINATED_EXIT
    return 0 if code is None else code
