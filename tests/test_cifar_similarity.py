"""Sign agreement and cosine of an optimizer's update with signSGD-momentum's."""

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from settings_helpers import unit_settings
from signgeom.estimate.similarity import (
    OUTPUT_COLUMNS,
    cosine,
    sign_agreement,
    similarity_run,
    similarity_to_signsgd,
    update_after,
    warmup_batches,
    warmup_gradients,
)
from signgeom.tasks.cifar.models import MODELS
from signgeom.training.optimizers import OPTIMIZERS
from signgeom.training.run_settings import TrainSettings
from signgeom.training.train import train_run


def _random_grads(steps: int, seed: int = 0) -> list[list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    shapes = [(4, 3, 3, 3), (4,), (5, 4)]
    return [[torch.randn(s, generator=gen) for s in shapes] for _ in range(steps)]


def test_signsgd_with_itself_is_exactly_one():
    sim = similarity_to_signsgd("signsgd", _random_grads(5), momentum=0.9)
    assert sim["sign_agreement"] == 1.0
    assert sim["cosine"] == 1.0
    assert sim["d"] == 4 * 27 + 4 + 20


def test_sgd_and_signsgd_agree_on_equal_magnitude_coordinates():
    """Every coordinate of g has magnitude 0.3: the heavy-ball buffers are equal and m is a
    multiple of sign(m), so the signs agree everywhere and the cosine is 1; with unequal
    magnitudes the signs still agree but the cosine drops below 1."""
    gen = torch.Generator().manual_seed(1)
    signs = [torch.randint(0, 2, (6,), generator=gen) * 2.0 - 1 for _ in range(3)]
    equal = [[0.3 * s] for s in signs]
    sim = similarity_to_signsgd("sgd", equal[:1], momentum=0.9)
    assert sim["sign_agreement"] == 1.0
    assert sim["cosine"] == pytest.approx(1.0, abs=1e-12)
    scaled = [[s * torch.arange(1.0, 7.0)] for s in signs]
    sim = similarity_to_signsgd("sgd", scaled, momentum=0.9)
    assert sim["sign_agreement"] == 1.0
    assert sim["cosine"] < 0.99


def test_updates_are_those_of_the_optimizers():
    """Two steps, hand-computed: heavy-ball m2 = 0.9 g1 + g2; Lion sign(0.9 m1 + 0.1 g2)
    with m1 = 0.01 g1."""
    g1, g2 = torch.tensor([1.0, -2.0, 0.0]), torch.tensor([-3.0, 1.0, 0.5])
    grads = [[g1], [g2]]
    torch.testing.assert_close(update_after("sgd", grads, 0.9), torch.tensor([-2.1, -0.8, 0.5]))
    torch.testing.assert_close(update_after("signsgd", grads, 0.9), torch.tensor([-1.0, -1, 1]))
    torch.testing.assert_close(update_after("lion", grads, 0.9), torch.tensor([-1.0, 1, 1]))
    sim = similarity_to_signsgd("lion", grads, momentum=0.9)
    assert sim["sign_agreement"] == pytest.approx(2 / 3)
    assert sim["cosine"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_gives_a_finite_similarity(name):
    sim = similarity_to_signsgd(name, _random_grads(3), momentum=0.9)
    assert 0 <= sim["sign_agreement"] <= 1
    assert -1 <= sim["cosine"] <= 1 and math.isfinite(sim["cosine"])


def test_sign_agreement_counts_zeros_and_cosine_of_zero_is_nan():
    u, v = torch.tensor([1.0, 0.0, -2.0, 0.0]), torch.tensor([3.0, 0.0, 1.0, 5.0])
    assert sign_agreement(u, v) == 0.5
    assert math.isnan(cosine(torch.zeros(3), torch.ones(3)))


def test_warmup_batches_are_fixed_and_wrap_around():
    a, b = warmup_batches(10, 4, 5, seed=3), warmup_batches(10, 4, 5, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert [len(x) for x in a] == [4] * 5
    first = torch.cat(a)[:10]
    assert sorted(first.tolist()) == list(range(10))  # one pass over every image first
    assert not torch.equal(torch.cat(a), torch.cat(warmup_batches(10, 4, 5, seed=4)))


def test_warmup_gradients_are_minibatch_gradients_at_fixed_parameters():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    x, y = torch.randn(8, 3, 2, 2), torch.randint(0, 3, (8,))
    batches = warmup_batches(8, 4, 3, seed=0)
    grads = warmup_gradients(net, x, y, batches, "batch_stats")
    for idx, g in zip(batches, grads, strict=True):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
        torch.testing.assert_close(g[0], net[1].weight.grad)


def test_adam_has_the_sign_of_signsgd_momentum_when_beta1_is_the_momentum():
    """Adam's first moment (1 - b1) sum b1^(t-k) g_k is a positive multiple of the heavy-ball
    buffer with mu = b1, and its update m_hat / (sqrt(v_hat) + eps) keeps m's sign: the sign
    agreement is 1 by construction, only the cosine tells Adam and signSGD-m apart."""
    sim = similarity_to_signsgd("adam", _random_grads(6, seed=2), momentum=0.9)
    assert sim["sign_agreement"] == 1.0
    assert sim["cosine"] < 0.99
    lion = similarity_to_signsgd("lion", _random_grads(6, seed=2), momentum=0.9)
    assert lion["sign_agreement"] < 1.0  # Lion's interpolation c is not m: signs can differ


DATA = Path(__file__).resolve().parents[1] / "data/cifar10-subset/cifar-10-batches-py"


@pytest.mark.skipif(not DATA.is_dir(), reason="bundled CIFAR subset missing")
@pytest.mark.parametrize("optimizer", ["signsgd", "muon"])
def test_similarity_run_reads_every_snapshot_of_a_run(optimizer, monkeypatch, tmp_path):
    """A toy network (one linear layer: a 2-D weight for Muon, a bias on its fallback)
    trained one epoch; the similarity CLI function gives one row per snapshot, the same rows
    on a rerun, and exactly 1 for signSGD-momentum's own trajectory."""

    def toy(num_classes: int = 10) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3072, num_classes))

    monkeypatch.setitem(MODELS, "toy", toy)
    run = tmp_path / "run"
    settings = unit_settings(
        TrainSettings,
        model="toy", optimizer=optimizer, lr=0.01, seed=3, epochs=1, batch_size=25,
        train_limit=50, test_limit=20, device="cpu",
    )  # fmt: skip
    train_run(settings, batches_dir=DATA, out_dir=run)
    kwargs = dict(
        model="toy", run_dir=run, warmup_steps=3, batch_size=20, momentum=0.9,
        bn_mode="batch_stats", train_limit=50, data_dir=DATA, device="cpu",
    )  # fmt: skip
    rows = similarity_run(**kwargs, out=tmp_path / "a.csv")
    similarity_run(**kwargs, out=tmp_path / "b.csv")
    again = pd.read_csv(tmp_path / "b.csv")
    table = pd.read_csv(tmp_path / "a.csv")
    assert list(table.columns) == OUTPUT_COLUMNS
    pd.testing.assert_frame_equal(table, again, check_exact=True)
    assert [r["epoch"] for r in rows] == [0, 1]
    assert set(table.optimizer) == {optimizer} and set(table.seed) == {3}
    assert (table.d == 3072 * 10 + 10).all()
    if optimizer == "signsgd":
        assert (table.sign_agreement == 1.0).all() and (table.cosine == 1.0).all()
    else:
        assert ((table.sign_agreement > 0.3) & (table.sign_agreement < 1.0)).all()
