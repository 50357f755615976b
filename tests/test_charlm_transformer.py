"""The character transformer: causal mask, initial loss, parameter count, one optimizer step."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from signgeom.tasks.charlm.task import SIZES
from signgeom.tasks.charlm.transformer import CharTransformer, TransformerSize, parameter_count
from signgeom.training.optimizers import build_optimizer

SMALL = TransformerSize(layers=2, width=16, heads=4, context=12)


def _model(size: TransformerSize = SMALL, vocab: int = 11, seed: int = 0) -> CharTransformer:
    torch.manual_seed(seed)
    return CharTransformer(size, vocab).double()


@pytest.mark.parametrize("later", [1, 5, 11])
def test_a_later_token_never_changes_an_earlier_output(later):
    net = _model()
    ids = torch.randint(0, 11, (3, 12), generator=torch.Generator().manual_seed(1))
    changed = ids.clone()
    changed[:, later] = (ids[:, later] + 1) % 11
    out, out_changed = net(ids), net(changed)
    torch.testing.assert_close(out_changed[:, :later], out[:, :later], rtol=0, atol=1e-12)
    assert (out_changed[:, later:] - out[:, later:]).abs().amax(dim=-1).min() > 0  # it does see it


@pytest.mark.parametrize("vocab", [11, 103])
def test_initial_loss_is_about_ln_vocabulary(vocab):
    net = _model(SIZES["transformer-cpu"], vocab)
    ids = torch.randint(0, vocab, (8, 64), generator=torch.Generator().manual_seed(2))
    targets = torch.randint(0, vocab, (8, 64), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        loss = F.cross_entropy(net(ids).flatten(0, 1), targets.flatten())
    assert abs(float(loss) - math.log(vocab)) < 0.02 * math.log(vocab)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_parameter_count_is_the_closed_form(name):
    net = CharTransformer(SIZES[name], 103)
    assert sum(p.numel() for p in net.parameters()) == parameter_count(SIZES[name], 103)


def test_cpu_size_is_between_a_tenth_and_a_fifth_of_a_million():
    assert 100_000 <= parameter_count(SIZES["transformer-cpu"], 103) <= 200_000


def test_sizes_are_checked():
    with pytest.raises(ValueError, match="not a multiple of heads"):
        TransformerSize(layers=1, width=10, heads=4, context=8)
    net = _model()
    with pytest.raises(ValueError, match="exceed the context"):
        net(torch.zeros(1, 13, dtype=torch.int64))


def _loss_and_head_gradient(net: CharTransformer, ids, targets):
    """The loss, and d loss / d head.weight by hand: (softmax(z) - onehot(y))^T h / (N T), with
    h the final LayerNorm's output and z = h W^T."""
    hidden = []
    hook = net.ln_final.register_forward_hook(lambda m, i, o: hidden.append(o.detach()))
    logits = net(ids)
    hook.remove()
    h = hidden[0].flatten(0, 1)
    resid = torch.softmax(logits.detach().flatten(0, 1), -1)
    resid -= F.one_hot(targets.flatten(), logits.shape[-1]).double()
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten()), resid.T @ h / h.shape[0]


@pytest.mark.parametrize("optimizer", ["sgd", "signsgd", "adam"])
def test_one_step_against_a_hand_computation(optimizer):
    net = _model()
    gen = torch.Generator().manual_seed(4)
    ids, targets = torch.randint(0, 11, (4, 12), generator=gen), torch.randint(0, 11, (4, 12))
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    lr = 0.05
    opt = build_optimizer(optimizer, net.parameters(), lr=lr, momentum=0.9)
    loss, head_grad = _loss_and_head_gradient(net, ids, targets)
    loss.backward()
    torch.testing.assert_close(net.head.weight.grad, head_grad, rtol=1e-10, atol=1e-12)
    grads = {n: p.grad.detach().clone() for n, p in net.named_parameters()}
    opt.step()
    # first step: the momentum buffer is g (heavy ball) / Adam's bias-corrected m, v are g, g^2
    direction = {
        "sgd": lambda g: g,
        "signsgd": torch.sign,
        "adam": lambda g: g / (g.abs() + 1e-8),
    }[optimizer]
    for name, p in net.named_parameters():
        expected = before[name] - lr * direction(grads[name])
        torch.testing.assert_close(p.detach(), expected, rtol=1e-12, atol=1e-12, msg=name)
    assert not torch.equal(net.head.weight.detach(), before["head.weight"])
