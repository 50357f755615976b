"""Hand-computed steps of the Figure 3 optimizers."""

import copy

import pytest
import torch

from signgeom.cifar.optimizers import (
    OPTIMIZERS,
    SGDMomentum,
    SignSGDMomentum,
    build_optimizer,
)

X0 = [1.0, -2.0, 0.5]
G1 = [1.0, -2.0, 0.0]
# m2 = 0.9 * G1 + G2 = [-2.1, -0.8, 0.5]: the second coordinate of m2 has the opposite
# sign of the second coordinate of G2, so sign(m) and sign(g) updates differ there.
G2 = [-3.0, 1.0, 0.5]


def _run(cls, grads, lr=0.1, momentum=0.9):
    x = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    opt = cls([x], lr=lr, momentum=momentum)
    out = []
    for g in grads:
        x.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append(x.detach().clone())
    return out


def test_sgd_momentum_two_steps():
    x1, x2 = _run(SGDMomentum, [G1, G2])
    torch.testing.assert_close(x1, torch.tensor([0.9, -1.8, 0.5], dtype=torch.float64))
    torch.testing.assert_close(x2, torch.tensor([1.11, -1.72, 0.45], dtype=torch.float64))


def test_signsgd_momentum_two_steps_uses_sign_of_momentum():
    x1, x2 = _run(SignSGDMomentum, [G1, G2])
    # sign(0) = 0: the third coordinate does not move at step 1.
    torch.testing.assert_close(x1, torch.tensor([0.9, -1.9, 0.5], dtype=torch.float64))
    # sign(m2) = [-1, -1, 1]; sign(G2) would give -2.0 in the second coordinate.
    torch.testing.assert_close(x2, torch.tensor([1.0, -1.8, 0.4], dtype=torch.float64))


def test_sgd_momentum_matches_torch_sgd():
    torch.manual_seed(0)
    a = torch.randn(5, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    ours = SGDMomentum([a], lr=0.05, momentum=0.9)
    ref = torch.optim.SGD([b], lr=0.05, momentum=0.9)
    for _ in range(4):
        g = torch.randn(5)
        a.grad, b.grad = g.clone(), g.clone()
        ours.step()
        ref.step()
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_round_trip_gives_identical_next_step(name):
    torch.manual_seed(1)
    g1, g2 = torch.randn(4), torch.randn(4)
    a = torch.randn(4, requires_grad=True)
    opt_a = build_optimizer(name, [a], lr=0.1)
    a.grad = g1.clone()
    opt_a.step()

    b = a.detach().clone().requires_grad_(True)
    opt_b = build_optimizer(name, [b], lr=0.1)
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))
    fresh = a.detach().clone().requires_grad_(True)
    opt_fresh = build_optimizer(name, [fresh], lr=0.1)

    for p in (a, b, fresh):
        p.grad = g2.clone()
    for opt in (opt_a, opt_b, opt_fresh):
        opt.step()
    torch.testing.assert_close(b, a, rtol=0, atol=0)
    assert not torch.equal(fresh, a)  # the restored state matters


def test_adam_uses_momentum_as_beta1():
    x = torch.zeros(2, requires_grad=True)
    opt = build_optimizer("adam", [x], lr=1e-3, momentum=0.8)
    assert isinstance(opt, torch.optim.Adam)
    assert opt.param_groups[0]["betas"] == (0.8, 0.999)


def test_registry_errors_list_names():
    with pytest.raises(ValueError, match="adam.*signsgd") as err:
        build_optimizer("lbfgs", [torch.zeros(1, requires_grad=True)], lr=0.1)
    assert "sgd" in str(err.value)


@pytest.mark.parametrize(("lr", "momentum"), [(0.0, 0.9), (0.1, 1.0), (0.1, -0.1)])
def test_invalid_hyperparameters(lr, momentum):
    with pytest.raises(ValueError):
        SignSGDMomentum([torch.zeros(1, requires_grad=True)], lr=lr, momentum=momentum)
