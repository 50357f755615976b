"""Rate / elapsed / ETA bookkeeping for per-epoch (or per-item) log lines."""

from __future__ import annotations

import time
from datetime import timedelta


def format_seconds(seconds: float) -> str:
    """``H:MM:SS`` for a duration in seconds (``?`` if unknown)."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    return str(timedelta(seconds=round(seconds)))


class ProgressMeter:
    """Tracks ``done`` of ``total`` units; ETA = remaining units * mean seconds per unit."""

    def __init__(self, total: int, done: int = 0) -> None:
        self.total = total
        self.start_done = done
        self.done = done
        self.t0 = time.perf_counter()

    def update(self, done: int) -> None:
        self.done = done

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def eta(self) -> float:
        finished = self.done - self.start_done
        if finished <= 0:
            return float("nan")
        return (self.total - self.done) * self.elapsed / finished

    def line(self) -> str:
        return (
            f"{self.done}/{self.total} | elapsed {format_seconds(self.elapsed)}"
            f" | ETA {format_seconds(self.eta)}"
        )
