"""The settings of one training run (of any task's model), declared once (``signgeom.settings``).

:class:`TrainSettings` is built once per run from the validated config
(``TrainSettings.from_config(config, model=..., optimizer=..., lr=..., seed=...)``; the rotated
runs add ``rotation_theta``). ``model`` is a key of ``cifar.models``; the network it trains is
its ``architecture`` (default: the key) and its minibatch its ``batch_size`` (default:
``cifar.batch_size``). From it come the run's identity and directory name
(``signgeom.training.runid``), the workflow rule's single ``--settings`` argument (its JSON) and
the input of ``signgeom.training.train.train_run``; the training CLI's flags are generated from
its fields. Adding a training setting is one field here (with its config key, type and range),
its key in ``config.yaml`` and the schema, and the code that uses it (docs: "Declaring a
setting"). Config-keyed fields have no default: config.yaml holds their values.

The identity fields shape the trajectory; the others (``epochs``, the snapshot schedule, the
evaluation cadence, the device) decide how far a run goes, what it reports and where it runs:
more epochs resume a run, fewer report a prefix of it. No torch import here: the Snakefile
uses this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signgeom.settings import Settings, setting
from signgeom.training import runid
from signgeom.training.schedule import Schedule

# The allowed values of ``cifar.device`` and ``cifar.training.precision`` (torch-free here:
# signgeom.training.device, which sets them up, imports them).
DEVICE_CHOICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "tf32", "bf16")


@dataclass(frozen=True, kw_only=True)
class TrainSettings(Settings):
    """Everything one training run needs, less its paths (data and run directory)."""

    model: str = setting(help="the run's model, a key of cifar.models (names its run directory)")
    architecture: str | None = setting(
        None,
        json="unless_default",
        identity="unless_default",
        help="the network (cifar.models.<model>.architecture), a model of "
        "signgeom.tasks.registry; none = the model's name",
    )
    optimizer: str = setting(help="update rule (a key of signgeom.training.optimizers.OPTIMIZERS)")
    lr: float = setting(gt=0, help="step size")
    seed: int = setting(ge=0, help="initialisation, shuffling and rotation seed")
    batch_size: int = setting(config="cifar.batch_size", ge=1, help="minibatch size")
    momentum: float = setting(
        config="cifar.momentum", ge=0, lt=1, help="heavy-ball momentum / beta1"
    )
    train_limit: int | None = setting(
        config="cifar.data.train_limit", ge=1, help="first N training images; none = all"
    )
    test_limit: int | None = setting(
        config="cifar.data.test_limit", ge=1, help="first N test images; none = all"
    )
    divergence_factor: float = setting(
        config="cifar.divergence_factor",
        gt=1,
        help="diverged above this times the epoch-0 loss",
    )
    augmentation: str = setting(
        config="cifar.augmentation",
        help="training augmentation (a key of the task's augmentations)",
    )
    precision: str = setting(
        config="cifar.training.precision", choices=PRECISIONS, help="training precision"
    )
    deterministic: bool = setting(
        config="cifar.training.deterministic", help="deterministic kernels"
    )
    channels_last: bool = setting(config="cifar.training.channels_last", help="NHWC layout")
    compile: bool = setting(config="cifar.training.compile", help="torch.compile the model")
    rotation_theta: float = setting(
        0.0,
        ge=0,
        le=1,
        identity="unless_default",
        help="train in rotated coordinates of this strength; 0 = plain",
    )
    rotation_block_size: int | None = setting(
        config="cifar.rotation.block_size",
        ge=2,
        le=4096,
        identity="unless_default",
        identity_default=None,
        help="coordinates per rotated block (a rotated run needs one; none at theta 0)",
    )
    epochs: int = setting(
        config="cifar.models.{model}.epochs", ge=1, identity=False, help="epochs to train (resumes)"
    )
    snapshot_stride: int = setting(
        config="cifar.smoothness.stride",
        ge=1,
        identity=False,
        help="keep parameters every N epochs",
    )
    snapshot_schedule: Schedule = setting(
        config="cifar.smoothness.schedule",
        identity=False,
        help="snapshot epochs: null | [epochs] | {dense_until, every, log_points}",
    )
    train_eval_every: int = setting(
        config="cifar.evaluation.train_every",
        ge=1,
        identity=False,
        help="train-set evaluation every N epochs",
    )
    train_eval_subset: int | None = setting(
        config="cifar.evaluation.train_subset",
        ge=1,
        identity=False,
        help="first N images for it; none = all",
    )
    device: str = setting(
        config="cifar.device", choices=DEVICE_CHOICES, identity=False, help="where to train"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rotation_theta != 0.0 and self.rotation_block_size is None:
            raise ValueError(
                "config key 'cifar.rotation.block_size': a rotated run (rotation_theta "
                f"{self.rotation_theta}) needs a block size, got None"
            )
        if self.architecture == self.model:  # one network, one identity, however it is named
            object.__setattr__(self, "architecture", None)
        if self.rotation_theta == 0.0:  # a plain run: the block size means nothing
            object.__setattr__(self, "rotation_block_size", None)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **per_job: Any):
        """As :meth:`Settings.from_config`; the network and ``batch_size`` are the model's own
        (``cifar.models.<model>.architecture`` / ``.batch_size``) where it has them
        (:func:`model_architecture`, :func:`model_batch_size`)."""
        model = per_job["model"]
        per_job.setdefault("architecture", model_architecture(config["cifar"], model))
        per_job.setdefault("batch_size", model_batch_size(config["cifar"], model))
        return super().from_config(config, **per_job)

    @property
    def network(self) -> str:
        """The network trained: ``architecture``, or the model's name."""
        return network_of(self.model, self.architecture)

    def run_id(self) -> str:
        """The hash of the identity fields (``runid.run_id``)."""
        return runid.run_id(self.identity())

    def run_key(self) -> str:
        """``<model>/<optimizer>/<run directory name>`` (``runid.run_key``)."""
        return runid.run_key(self.identity())


def network_of(model: str, architecture: str | None) -> str:
    """The network of a ``cifar.models`` entry: its ``architecture``, else its key."""
    return model if architecture is None else architecture


def model_architecture(cifar: Mapping[str, Any], model: str) -> str:
    """The network of the ``cifar.models`` entry ``model`` (``cifar``: the config's section)."""
    return network_of(model, (cifar["models"].get(model) or {}).get("architecture"))


def model_batch_size(cifar: Mapping[str, Any], model: str) -> int:
    """The minibatch size of the ``cifar.models`` entry ``model``: its ``batch_size``, else
    ``cifar.batch_size``."""
    return (cifar["models"].get(model) or {}).get("batch_size", cifar["batch_size"])
