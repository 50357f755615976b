"""Stacked training: K members equal K separate runs; members are independent."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from settings_helpers import unit_settings
from signgeom.tasks.cifar import models
from signgeom.training.run_settings import TrainSettings
from signgeom.training.stacked import StackedTrainer, check_stackable, stacked_settings
from signgeom.training.train import epoch_seed, run_optimizer, train_epoch

CPU = torch.device("cpu")
LRS, SEEDS = (0.02, 0.005, 0.01), (3, 4, 5)


class TinyBN(nn.Module):
    """Conv-BN-ReLU twice, dropout, linear: batch norm and dropout in a few hundred weights.
    No conv bias before batch norm (its gradient is zero up to rounding, whose sign a sign
    method would follow)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 4, 3, stride=2, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Conv2d(4, 6, 3, stride=2, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
        )  # fmt: skip
        self.fc = nn.Linear(6, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


@pytest.fixture
def tinybn(monkeypatch):
    monkeypatch.setitem(models.MODELS, "tinybn", TinyBN)
    return "tinybn"


def _data(n: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, 32, 32, generator=gen), torch.randint(0, 10, (n,), generator=gen)


def _base(model: str, optimizer: str = "sgd", **kw) -> TrainSettings:
    kw = {"batch_size": 8, "augmentation": "keras", "device": "cpu", **kw}
    return unit_settings(
        TrainSettings, model=model, optimizer=optimizer, lr=0.01, seed=0, epochs=2, **kw
    )


def _separate(s: TrainSettings, x, y, epochs) -> tuple[list[float], dict[str, torch.Tensor]]:
    """What ``train.train_run`` does for ``s``: seed, model, optimizer, ``train_epoch``."""
    torch.manual_seed(s.seed)
    net = models.build_model(s.model)
    opt = run_optimizer(s, net)
    losses = [
        train_epoch(net, opt, x, y, s.batch_size, epoch_seed(s.seed, e), s.augmentation)
        for e in epochs
    ]
    return losses, net.state_dict()


@pytest.fixture
def float64():
    """Float64 models and data: the stack's grouped convolutions round differently from the
    separate runs' convolutions, and in float32 a max-pooling near-tie flipped by that
    rounding moved a whole trajectory by ~1e-4; in float64 the parameters match to ~1e-14.
    The loss is float32 in both (``train_epoch`` casts the logits), so losses match to
    float32 rounding."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


ROTATED = {"optimizer": "signsgd", "rotation_theta": 0.5, "rotation_block_size": 4}


@pytest.mark.parametrize(
    ("model", "n_members", "n_images", "kw"),
    [("cnn", 2, 10, {}), ("tinybn", 3, 20, {}), ("tinybn", 2, 16, ROTATED)],
)
def test_members_equal_separate_runs(model, n_members, n_images, kw, tinybn, float64):
    """Losses, parameters and batch-norm running statistics (and its batch counter) of each
    member after two epochs (the last step short) equal the separate run's, with different
    step sizes and seeds; dropout masks and augmentation included; also signSGD in rotated
    coordinates (rotations drawn from each member's seed)."""
    x, y = _data(n_images)
    members = stacked_settings(_base(model, **kw), LRS[:n_members], SEEDS[:n_members])
    stack = StackedTrainer(members, CPU)
    stacked_losses = [stack.train_epoch(x, y, e) for e in (1, 2)]
    for k, s in enumerate(members):
        losses, state = _separate(s, x, y, (1, 2))
        torch.testing.assert_close([row[k] for row in stacked_losses], losses, rtol=1e-6, atol=0)
        mine = stack.members[k].state_dict()
        assert mine.keys() == state.keys()
        for name, value in state.items():
            close = dict(rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(
                mine[name], value, **close, msg=lambda m, n=name: f"{n}: {m}"
            )
        if model == "tinybn" and n_images == 20:
            init = TinyBN().state_dict()
            assert not torch.allclose(mine["body.1.running_mean"], init["body.1.running_mean"])
            assert mine["body.1.num_batches_tracked"] == 6  # 3 steps per epoch


@pytest.mark.parametrize("optimizer", ["signsgd", "adam", "lion", "muon"])
def test_members_are_independent(optimizer, tinybn):
    """Changing member 1's step size changes member 1 and leaves members 0 and 2 bit for bit."""
    x, y = _data(16)
    states = []
    for lrs in (LRS, (LRS[0], 10 * LRS[1], LRS[2])):
        stack = StackedTrainer(stacked_settings(_base(tinybn, optimizer), lrs, SEEDS), CPU)
        losses = [stack.train_epoch(x, y, e) for e in (1, 2)]
        states.append((losses, [net.state_dict() for net in stack.members]))
    (losses_a, nets_a), (losses_b, nets_b) = states
    for k in (0, 2):
        assert [row[k] for row in losses_a] == [row[k] for row in losses_b]
        for name, value in nets_a[k].items():
            assert torch.equal(value, nets_b[k][name]), name
    assert not torch.equal(nets_a[1]["fc.weight"], nets_b[1]["fc.weight"])


def test_stopped_member_stays_and_others_go_on(tinybn):
    """An inactive member (e.g. diverged) is computed along but neither steps nor moves its
    running statistics; its loss is NaN; the others train as in a stack without it."""
    x, y = _data(16)
    members = stacked_settings(_base(tinybn), LRS, SEEDS)
    stack = StackedTrainer(members, CPU)
    before = {k: v.clone() for k, v in stack.members[1].state_dict().items()}
    losses = stack.train_epoch(x, y, 1, active=[True, False, True])
    assert losses[1] != losses[1]
    for name, value in stack.members[1].state_dict().items():
        assert torch.equal(value, before[name]), name
    pair = StackedTrainer([members[0], members[2]], CPU)
    assert pair.train_epoch(x, y, 1) == [losses[0], losses[2]]


def test_only_lr_and_seed_may_differ():
    base = _base("cnn")
    check_stackable(stacked_settings(base, LRS, SEEDS))
    with pytest.raises(ValueError, match="momentum"):
        check_stackable([base, unit_settings(TrainSettings, **{**base.__dict__, "momentum": 0.5})])
    with pytest.raises(ValueError, match="channels_last"):
        StackedTrainer([_base("cnn", channels_last=True)], CPU)
    with pytest.raises(ValueError, match="one seed per lr"):
        stacked_settings(base, LRS, SEEDS[:2])
