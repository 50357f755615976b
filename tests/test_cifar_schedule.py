"""The estimate schedule: closed-form epochs for each form, and its validation."""

import pytest

from signgeom.training.schedule import (
    estimate_epochs,
    schedule_errors,
)


@pytest.mark.parametrize(
    "epochs, stride, expected",
    [
        (7, 3, [0, 3, 6, 7]),
        (6, 3, [0, 3, 6]),
        (3, 1, [0, 1, 2, 3]),
        (0, 5, [0]),
        (2, 5, [0, 2]),
    ],
)
def test_stride_gives_zero_every_stride_th_and_the_last_epoch(epochs, stride, expected):
    assert estimate_epochs(epochs, stride) == expected
    assert estimate_epochs(epochs, stride, None) == sorted({*range(0, epochs + 1, stride), epochs})


def test_an_explicit_list_is_taken_as_is_less_epochs_beyond_the_trajectory():
    assert estimate_epochs(10, 1, [7, 0, 3]) == [0, 3, 7]
    assert estimate_epochs(5, 1, [7, 0, 3]) == [0, 3]  # a shorter model skips epoch 7
    assert estimate_epochs(10, 1, [4]) == [4]  # neither epoch 0 nor the last is added


@pytest.mark.parametrize(
    "epochs, schedule, expected",
    [
        # D (E/D)^(k/n): 10 * 60^(1/3) = 39.15, 10 * 60^(2/3) = 153.26, 600
        (600, {"dense_until": 10, "every": 1, "log_points": 3}, [*range(11), 39, 153, 600]),
        # every 2 up to 5, then 5 * 4^(1/2) = 10 and 5 * 4 = 20
        (20, {"dense_until": 5, "every": 2, "log_points": 2}, [0, 2, 4, 10, 20]),
        # no log points: dense part and the last epoch
        (50, {"dense_until": 4, "every": 1, "log_points": 0}, [0, 1, 2, 3, 4, 50]),
        # dense past the end: every epoch, the last kept off-grid
        (7, {"dense_until": 10, "every": 3, "log_points": 4}, [0, 3, 6, 7]),
        # rounding repeats collapse: 10 * 1.2^(k/8) in (10, 12] -> 10.2, 10.5, ... -> 11, 12 only
        (12, {"dense_until": 10, "every": 5, "log_points": 8}, [0, 5, 10, 11, 12]),
    ],
)
def test_dense_then_log_spaced_epochs_match_the_closed_form(epochs, schedule, expected):
    assert estimate_epochs(epochs, 1, schedule) == expected


def test_log_points_are_the_rounded_geometric_grid_from_dense_until_to_the_last_epoch():
    epochs, d, n = 600, 20, 60
    got = estimate_epochs(epochs, 1, {"dense_until": d, "every": 1, "log_points": n})
    grid = {int(d * (epochs / d) ** (k / n) + 0.5) for k in range(1, n + 1)}
    assert got == sorted({*range(d + 1), *(e for e in grid if e > d)})
    assert got[-1] == epochs and len(got) < 82  # 600 epochs measured at fewer than 82


@pytest.mark.parametrize(
    "schedule, stride, match",
    [
        ([0, 2], 2, "snapshot.stride"),
        ([0, 2], 2, "snapshot.schedule to null"),
        ([], 1, "non-empty"),
        ([1, 1], 1, "listed twice"),
        ([-1], 1, "integers >= 0"),
        ({"dense_until": 3, "every": 1}, 1, "exactly the keys"),
        ({"dense_until": 0, "every": 1, "log_points": 2}, 1, "dense_until: must be an integer"),
        ({"dense_until": 3, "every": 0, "log_points": 2}, 1, "every: must be an integer >= 1"),
        ("every", 1, "must be null"),
    ],
)
def test_invalid_schedules_name_the_key(schedule, stride, match):
    errors = schedule_errors(schedule, stride, key="snapshot")
    assert errors and match in "; ".join(errors)
    with pytest.raises(ValueError, match=match.replace("snapshot.", "")):
        estimate_epochs(10, stride, schedule)
