"""The Figure 3 projection's arithmetic against hand counts (signgeom.estimate.projection)."""

import pytest
import yaml

from signgeom.estimate.projection import Rates, figure3_workload, project_hours
from signgeom.workflow import REPO

SMALL = {
    "data": {"train_limit": 1000, "test_limit": 200},
    "evaluation": {"train_every": 4, "train_subset": 100},
    "seeds": [0, 1, 2],
    "selection_seeds": [0],
    "models": {"cnn": {"epochs": 10, "step_sizes": {"sgd": [1, 2, 3], "signsgd": [4, 5]}}},
    "smoothness": {"stride": 1, "schedule": [0, 5, 10, 20], "n_examples": 500},
}


def test_workload_and_hours_by_hand():
    work = figure3_workload(SMALL, "cnn")
    # grid: 5 runs on seed 0; the 2 selected trajectories repeated on seeds 1 and 2
    assert work.runs == 5 + 2 * 2
    # epoch-0 loss (1000) + test set at epochs 0..10 (11 x 200) + train subset at 0, 4, 8, 10
    assert work.eval_images == 1000 + 11 * 200 + 4 * 100
    # 2 trajectories x 3 seeds, each at epochs 0, 5, 10 (20 is beyond the run); stride 1: 11
    assert (work.trajectories, work.estimate_epochs, work.every_epoch) == (6, 3, 11)
    assert work.estimates == 18 and work.estimate_images == 500
    hours = project_hours(work, Rates(train=100.0, evaluate=400.0, estimate_s=50.0))
    # per run 10 x 1000 / 100 + 3600 / 400 = 109 s; one estimate 50 s x 500 / 50,000 = 0.5 s
    assert hours.train == pytest.approx(9 * 109 / 3600)
    assert hours.estimate == pytest.approx(18 * 0.5 / 3600)
    assert hours.total == pytest.approx((9 * 109 + 9) / 3600)


def test_null_selection_seeds_is_the_grid_on_every_seed():
    work = figure3_workload({**SMALL, "selection_seeds": None}, "cnn")
    assert work.runs == 5 * 3 and work.trajectories == 6


def test_paper_scale_counts():
    cifar = yaml.safe_load((REPO / "config.yaml").read_text())["cifar"]
    cifar = {**cifar, "seeds": [0, 1, 2, 3, 4], "selection_seeds": [0]}
    smooth = {**cifar["smoothness"], "stride": 1}

    def with_schedule(schedule):
        return {**cifar, "smoothness": {**smooth, "schedule": schedule}}

    resnet = figure3_workload(with_schedule(None), "resnet20")
    assert resnet.runs == 12 + 2 * 4 and resnet.trajectories == 10
    assert resnet.estimate_epochs == resnet.every_epoch == 601
    assert resnet.estimate_images == 50_000  # n_examples null: the whole training set
    # README: {dense_until: 20, every: 1, log_points: 60} measures 600 epochs at 81 (21 + 60)
    schedule = {"dense_until": 20, "every": 1, "log_points": 60}
    dense_log = figure3_workload(with_schedule(schedule), "resnet20")
    assert dense_log.estimate_epochs == 81 and dense_log.every_epoch == 601
