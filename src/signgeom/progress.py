"""Progress as whole log lines: done/total, rate, elapsed and ETA, computed by tqdm.

Every long loop of the package reports through this module, so every rule's log file holds
plain lines (no carriage-return bars) such as ``3/20 | elapsed 00:12 | ETA 01:08 | 4.01s/epoch``.
tqdm does the bookkeeping: rate = (done - done at start) / elapsed, ETA = (total - done) / rate.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

BAR_FORMAT = "{n_fmt}/{total_fmt} | elapsed {elapsed} | ETA {remaining} | {rate_fmt}"


class Progress:
    """``done`` of ``total`` units (``done`` may start above 0 for a resumed job)."""

    def __init__(self, total: int, done: int = 0, unit: str = "it") -> None:
        self._bar = tqdm(
            total=total,
            initial=done,
            unit=unit,
            file=io.StringIO(),  # tqdm draws nothing anywhere; ``line`` is logged instead
            bar_format=BAR_FORMAT,
            smoothing=0,  # the mean rate since the start, not a moving average
            mininterval=0,
        )

    def update(self, done: int) -> None:
        """Set the number of finished units to ``done``."""
        self._bar.update(done - self._bar.n)

    def line(self) -> str:
        return str(self._bar)

    @property
    def elapsed(self) -> float:
        return self._bar.format_dict["elapsed"]


def format_seconds(seconds: float) -> str:
    """``H:MM:SS`` (tqdm's interval format) for a duration in seconds."""
    return tqdm.format_interval(seconds)


def logged(
    items: Iterable[T],
    total: int,
    desc: str,
    logger: logging.Logger,
    unit: str = "it",
    every_seconds: float = 10.0,
) -> Iterator[T]:
    """Yield ``items``, logging ``desc: <Progress line>`` at most every ``every_seconds`` and
    once when all ``total`` are done."""
    meter = Progress(total, unit=unit)
    last = time.monotonic()
    for done, item in enumerate(items, start=1):
        yield item
        meter.update(done)
        now = time.monotonic()
        if done == total or now - last >= every_seconds:
            logger.info("%s: %s", desc, meter.line())
            last = now
