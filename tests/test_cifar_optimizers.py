"""Hand-computed steps of the Figure 3 optimizers."""

import copy

import pytest
import torch

from signgeom.tasks.cifar.models import build_model
from signgeom.training.optimizers import (
    NS_STEPS,
    OPTIMIZERS,
    SGDMomentum,
    SignSGDMomentum,
    build_optimizer,
    orthogonalise,
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
    # A small second gradient: Lion's sign(0.9 m + 0.1 g2) then follows the restored m.
    # A 2 x 4 matrix: Muon orthogonalises it.
    g1, g2 = torch.randn(2, 4), 0.01 * torch.randn(2, 4)
    a = torch.randn(2, 4, requires_grad=True)
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


def test_lion_two_steps_hand_computed():
    # c1 = 0.1 G1 -> sign [1, -1, 0]; m1 = 0.01 G1.
    # c2 = 0.9 m1 + 0.1 G2 = [-0.291, 0.082, 0.05] -> sign [-1, 1, 1]: the second coordinate
    # follows G2 here, where heavy-ball signSGD's sign(m2) = [-1, -1, 1] does not.
    x = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    opt = build_optimizer("lion", [x], lr=0.1, momentum=0.9)
    out = []
    for g in (G1, G2):
        x.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append(x.detach().clone())
    torch.testing.assert_close(out[0], torch.tensor([0.9, -1.9, 0.5], dtype=torch.float64))
    torch.testing.assert_close(out[1], torch.tensor([1.0, -2.0, 0.4], dtype=torch.float64))
    m2 = torch.tensor([-0.0201, -0.0098, 0.005], dtype=torch.float64)  # 0.99 m1 + 0.01 G2
    torch.testing.assert_close(opt.state[x]["exp_avg"], m2)


def _quintic(s: float, steps: int = NS_STEPS) -> float:
    a, b, c = 3.4445, -4.7750, 2.0315  # Keller Jordan's coefficients, written out
    for _ in range(steps):
        s = a * s + b * s**3 + c * s**5
    return s


def test_muon_two_steps_on_a_small_model_hand_computed():
    """Linear(3 -> 2) (wide weight, bias on the SGD fallback) and a 1x1 conv of 2 -> 3
    channels (a tall 3 x 2 matrix after reshaping: scaled by sqrt(3 / 2)). Gradients with
    orthogonal rows or columns have known singular vectors, so the Newton-Schulz output is
    the scalar quintic applied to each normalised singular value."""
    torch.manual_seed(0)
    lin, conv = torch.nn.Linear(3, 2), torch.nn.Conv2d(2, 3, kernel_size=1)
    params = [lin.weight, lin.bias, conv.weight, conv.bias]
    x0 = [p.detach().clone() for p in params]
    opt = build_optimizer("muon", params, lr=0.1, momentum=0.9)
    g_lin = torch.tensor([[3.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    g_conv = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    grads = [g_lin, torch.tensor([1.0, -2.0]), g_conv.view(3, 2, 1, 1), torch.tensor([0.5, 0, 1])]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    opt.step()
    # Step 1: m = g, u = g + 0.9 g; the normalisation removes the factor 1.9.
    f_lin, f_conv = 10**0.5, 5**0.5
    ns_lin = torch.tensor([[_quintic(3 / f_lin), 0, 0], [0, -_quintic(1 / f_lin), 0]])
    ns_conv = torch.tensor([[_quintic(1 / f_conv), 0], [0, _quintic(2 / f_conv)], [0, 0]])
    expected = [
        x0[0] - 0.1 * ns_lin,
        x0[1] - 0.1 * 1.9 * grads[1],
        x0[2] - 0.1 * 1.5**0.5 * ns_conv.view(3, 2, 1, 1),
        x0[3] - 0.1 * 1.9 * grads[3],
    ]
    for p, e in zip(params, expected, strict=True):
        torch.testing.assert_close(p.detach(), e, rtol=0, atol=2e-6)
    # Step 2 on the linear weight: m2 = 0.9 g + g2, u = g2 + 0.9 m2 = [[2.43, 0, 3.8],
    # [0, -0.81, 0]]: orthogonal rows, each mapped to quintic(|row| / ||u||_F) row / |row|.
    x1 = lin.weight.detach().clone()
    g2 = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    for p in params:
        p.grad = torch.zeros_like(p)
    lin.weight.grad = g2
    opt.step()
    u = torch.tensor([[2.43, 0.0, 3.8], [0.0, -0.81, 0.0]], dtype=torch.float64)
    rows = u.norm(dim=1, keepdim=True)
    factor = torch.tensor([[_quintic(float(r) / float(u.norm()))] for r in rows])
    ns2 = (factor * u / rows).float()
    torch.testing.assert_close(lin.weight.detach(), x1 - 0.1 * ns2, rtol=0, atol=2e-6)


def test_muon_matches_torch_optim_muon_up_to_its_bf16_iteration():
    """torch.optim.Muon (nesterov, no weight decay, 'original' lr scaling) runs the same
    iteration in bfloat16 on 2-D parameters only: the same update to bf16 accuracy."""
    torch.manual_seed(3)
    a = torch.randn(8, 5, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    ours = build_optimizer("muon", [a], lr=0.5, momentum=0.9)
    ref = torch.optim.Muon([b], lr=0.5, momentum=0.9, weight_decay=0.0, nesterov=True)
    for _ in range(3):
        g = torch.randn(8, 5)
        a.grad, b.grad = g.clone(), g.clone()
        x_a, x_b = a.detach().clone(), b.detach().clone()
        ours.step()
        ref.step()
        torch.testing.assert_close(a - x_a, b - x_b, rtol=0, atol=0.02)
    assert not torch.allclose(a - x_a, b - x_b, rtol=0, atol=1e-6)  # bf16 vs our fp32


@pytest.mark.parametrize("model", ["cnn", "resnet20"])
def test_muon_orthogonalised_update_has_singular_values_near_one(model):
    """For every weight with ndim >= 2 of both networks, on a real minibatch gradient G: the
    singular values of orthogonalise(G) are the quintic applied five times to those of
    G / ||G||_F (Newton-Schulz keeps the singular vectors), and every singular value of G
    above 2e-3 ||G||_F comes out in [0.6, 1.25] (the quintic maps [2e-3, 1] into
    [0.68, 1.21]; it is not exactly 1 by design). Smaller ones (e.g. the zero singular values
    of a rank-deficient classifier gradient) are not pushed to 1."""
    torch.manual_seed(0)
    net = build_model(model)
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    torch.nn.functional.cross_entropy(net(x), y).backward()
    weights = [p for p in net.parameters() if p.ndim >= 2]
    assert weights
    for p in weights:
        g = p.grad.reshape(p.shape[0], -1)
        s_in = torch.linalg.svdvals(g.double()) / g.double().norm()
        s_out = torch.linalg.svdvals(orthogonalise(g).double())
        predicted = torch.tensor([abs(_quintic(float(s))) for s in s_in], dtype=torch.float64)
        torch.testing.assert_close(s_out.sort().values, predicted.sort().values, rtol=0, atol=2e-3)
        resolved = int((s_in >= 2e-3).sum())
        assert resolved > 0
        assert int(((s_out >= 0.6) & (s_out <= 1.25)).sum()) >= resolved
        assert float(s_out.max()) <= 1.25


def test_orthogonalise_refuses_non_matrices():
    with pytest.raises(ValueError, match="2-D"):
        orthogonalise(torch.ones(3))


def test_muon_orthogonalises_in_strict_fp32_and_restores_the_flags(monkeypatch):
    import signgeom.training.optimizers as optimizers

    seen = []

    def recording(g, steps=NS_STEPS):
        seen.append((torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32))
        return orthogonalise(g, steps)

    monkeypatch.setattr(optimizers, "orthogonalise", recording)
    saved = (torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32)
    torch.set_float32_matmul_precision("high")
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        w = torch.randn(3, 4, requires_grad=True)
        opt = build_optimizer("muon", [w], lr=0.1)
        w.grad = torch.randn(3, 4)
        opt.step()
        assert seen == [("highest", False)]
        assert torch.get_float32_matmul_precision() == "high"
        assert torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cuda.matmul.allow_tf32 = saved[1]


@pytest.mark.parametrize("theta", [0.0, 0.5])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_with_a_closure_returns_its_loss_and_steps_on_its_gradient(name, theta):
    """``step(closure)`` (under ``torch.no_grad``) re-evaluates the loss with gradients on,
    returns it, and takes the very step that ``step()`` takes after the same backward pass."""
    from signgeom.training.rotation import build_rotated_optimizer

    if theta > 0 and name == "muon":
        pytest.skip("shape-dependent: refused in rotated coordinates")
    target = torch.tensor([[0.3, -1.0], [2.0, 0.5]], dtype=torch.float64)

    def build():
        w = torch.zeros(2, 2, dtype=torch.float64, requires_grad=True)
        return w, build_rotated_optimizer(name, [("w", w)], 0.01, 0.9, theta, 4, seed=0)

    (w1, opt1), (w2, opt2) = build(), build()

    def closure():
        opt1.zero_grad()
        loss = ((w1 - target) ** 2).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        returned = opt1.step(closure)
    assert returned.item() == pytest.approx(((target) ** 2).sum().item())
    ((w2 - target) ** 2).sum().backward()
    assert opt2.step() is None
    torch.testing.assert_close(w1.detach(), w2.detach(), rtol=0, atol=0)
    assert not torch.equal(w1.detach(), torch.zeros(2, 2, dtype=torch.float64))
