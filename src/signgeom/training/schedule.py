"""The epochs of a trajectory at which snapshots are saved and R_hat is estimated.

One function, :func:`estimate_epochs`, maps ``cifar.smoothness.stride`` and
``cifar.smoothness.schedule`` and a trajectory's length ``E`` to those epochs; training saves
snapshots there (``status.json`` lists them), and the smoothness and Hessian stages read them.

``schedule`` is one of

- ``null``: epoch 0, every ``stride``-th epoch and the last epoch ``E``;
- a list of epochs: exactly those, less any beyond ``E`` (models train for different lengths);
- ``{dense_until: D, every: s, log_points: n}``: ``0, s, 2s, ... <= min(D, E)``, then the
  epochs ``round(D (E/D)^(k/n))`` for ``k = 1..n`` (nearest integer, halves up; those above
  ``D`` and not repeated, so at most ``n``; the last is ``E``), and the last epoch ``E``.

R_hat moves fastest in the first epochs, so the dense-then-log form measures a long trajectory
at a few dozen epochs. No torch import here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

Schedule = Sequence[int] | Mapping[str, int] | None
SCHEDULE_KEYS = ("dense_until", "every", "log_points")


def _is_count(value: Any, low: int) -> bool:
    """An integer (not a bool) >= ``low``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def schedule_errors(schedule: Any, stride: int = 1, key: str = "cifar.smoothness") -> list[str]:
    """Messages ``config key '<key>.schedule...': <problem>`` for an invalid schedule."""
    where = f"config key '{key}.schedule'"
    if schedule is None:
        return []
    errors = []
    if stride != 1:
        errors.append(
            f"config key '{key}.stride': {stride} together with a schedule; set stride to 1 "
            f"when {key}.schedule is given (the schedule alone picks the epochs), or "
            f"{key}.schedule to null to estimate every {stride} epochs"
        )
    if isinstance(schedule, Mapping):
        if sorted(schedule) != sorted(SCHEDULE_KEYS):
            errors.append(f"{where}: needs exactly the keys {list(SCHEDULE_KEYS)}, got "
                          f"{sorted(schedule)}")  # fmt: skip
            return errors
        lows = {"dense_until": 1, "every": 1, "log_points": 0}
        for name, low in lows.items():
            value = schedule[name]
            if not _is_count(value, low):
                errors.append(f"{where}.{name}: must be an integer >= {low}, got {value!r}")
        return errors
    if isinstance(schedule, Sequence) and not isinstance(schedule, str):
        if not schedule or not all(_is_count(e, 0) for e in schedule):
            errors.append(f"{where}: a list of epochs must be non-empty integers >= 0, got "
                          f"{list(schedule)}")  # fmt: skip
        elif len(set(schedule)) != len(schedule):
            errors.append(f"{where}: epochs listed twice in {list(schedule)}")
        return errors
    return [f"{where}: must be null, a list of epochs or a mapping {list(SCHEDULE_KEYS)}, "
            f"got {schedule!r}"]  # fmt: skip


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def estimate_epochs(epochs: int, stride: int = 1, schedule: Schedule = None) -> list[int]:
    """The sorted snapshot / estimate epochs of an ``epochs``-long trajectory (module doc)."""
    if errors := schedule_errors(schedule, stride):
        raise ValueError("; ".join(errors))
    if epochs < 0 or stride < 1:
        raise ValueError(f"need epochs >= 0 and stride >= 1, got {epochs}, {stride}")
    if schedule is None:
        return sorted({*range(0, epochs + 1, stride), epochs})
    if not isinstance(schedule, Mapping):
        return sorted(e for e in schedule if e <= epochs)
    dense_until, every, n = (schedule[k] for k in SCHEDULE_KEYS)
    chosen = {*range(0, min(dense_until, epochs) + 1, every), epochs}
    if dense_until < epochs:
        ratio = epochs / dense_until
        logs = {_round_half_up(dense_until * ratio ** (k / n)) for k in range(1, n + 1)}
        chosen |= {e for e in logs if e > dense_until}
    return sorted(e for e in chosen if e <= epochs)
