"""Device-hours of the Figure 3 workload (training and R_hat estimates) from measured rates.

For one model with ``E`` epochs, ``G`` step sizes over ``T`` optimizers, seeds ``S`` and
selection seeds ``S_sel`` (the workflow's rule: the grid on ``S_sel``, the ``T`` selected
trajectories repeated on the other seeds, and estimated on every seed):

- runs ``R = G |S_sel| + T |S minus S_sel|``, each ``E`` epochs of ``N_train`` images;
- forward-only images per run: ``N_train`` (epoch 0's loss) ``+ (E + 1) N_test`` (test accuracy
  every epoch) ``+ n_sub N_sub`` (the train-set pass at ``n_sub = |{0, k, 2k, ...} u {E}|``
  epochs, ``k = evaluation.train_every``, ``N_sub = evaluation.train_subset``);
- estimates ``T |S| |epochs(E, stride, schedule)| P`` (:func:`signgeom.training.schedule.
  estimate_epochs`), each over ``N_est`` images, with ``P = 1 + |robustness_probe_steps|``
  probe options (each option's estimate costs what the headline's does: the same passes).

With training at ``r_train`` images/s (aggregate over the runs sharing the device), evaluation
at ``r_eval`` images/s and one estimate over 50,000 images in ``c`` seconds, the hours are
``R (E N_train / r_train + forward images / r_eval) / 3600`` and
``estimates c N_est / 50,000 / 3600``. No torch import here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signgeom.training.schedule import estimate_epochs

CIFAR10_TRAIN = 50_000
CIFAR10_TEST = 10_000


@dataclass(frozen=True)
class Workload:
    """What one model's part of Figure 3 computes (module doc)."""

    runs: int
    epochs: int
    train_images: int  # of one training epoch
    eval_images: int  # forward-only images of one run
    trajectories: int  # estimated trajectories: selected optimizers x seeds
    estimate_epochs: int  # estimates per trajectory (the stride or schedule)
    every_epoch: int  # estimates per trajectory at stride 1, no schedule
    estimate_images: int
    probe_steps: int = 1  # the headline probe option plus cifar.smoothness.robustness_probe_steps

    @property
    def estimates(self) -> int:
        return self.trajectories * self.estimate_epochs * self.probe_steps


@dataclass(frozen=True)
class Rates:
    """Measured rates on one device: training images/s (aggregate of the runs sharing it),
    evaluation images/s, seconds of one estimate over 50,000 images."""

    train: float
    evaluate: float
    estimate_s: float


@dataclass(frozen=True)
class Hours:
    train: float
    estimate: float

    @property
    def total(self) -> float:
        return self.train + self.estimate


def figure3_workload(cifar: Mapping[str, Any], model: str) -> Workload:
    """The workload of ``model`` under the config section ``cifar`` (module doc)."""
    spec, data, ev = cifar["models"][model], cifar["data"], cifar["evaluation"]
    seeds = list(cifar["seeds"])
    selection = cifar.get("selection_seeds")
    selection = seeds if selection is None else list(selection)
    grids = spec["step_sizes"]
    optimizers = len(grids)
    repeats = len(set(seeds) - set(selection))
    runs = sum(len(lrs) for lrs in grids.values()) * len(selection) + optimizers * repeats
    epochs = spec["epochs"]
    n_train = data.get("train_limit") or CIFAR10_TRAIN
    n_test = data.get("test_limit") or CIFAR10_TEST
    n_sub = min(ev["train_subset"] or n_train, n_train)
    sub_passes = len({*range(0, epochs + 1, ev["train_every"]), epochs})
    smooth = cifar["smoothness"]
    scheduled = estimate_epochs(epochs, smooth["stride"], smooth.get("schedule"))
    return Workload(
        runs=runs,
        epochs=epochs,
        train_images=n_train,
        eval_images=n_train + (epochs + 1) * n_test + sub_passes * n_sub,
        trajectories=optimizers * len(seeds),
        estimate_epochs=len(scheduled),
        every_epoch=len(estimate_epochs(epochs)),
        estimate_images=min(smooth["n_examples"] or n_train, n_train),
        probe_steps=1 + len(smooth.get("robustness_probe_steps") or ()),
    )


def project_hours(work: Workload, rates: Rates) -> Hours:
    """Device-hours of ``work`` at ``rates`` (module doc)."""
    per_run = work.epochs * work.train_images / rates.train + work.eval_images / rates.evaluate
    one_estimate = rates.estimate_s * work.estimate_images / CIFAR10_TRAIN
    return Hours(work.runs * per_run / 3600, work.estimates * one_estimate / 3600)
