"""Per-block Hessian statistics against the dense Hessian of a tiny transformer
(torch.autograd.functional.hessian, reverse over reverse), and the block partitions of both
tasks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

from settings_helpers import unit_settings
from signgeom.estimate.estimate_settings import HessianMethod
from signgeom.estimate.fixed_objective import make_chunks, second_order_kernels
from signgeom.estimate.hessian import estimate_hessian
from signgeom.estimate.hessian_param_blocks import block_statistics
from signgeom.norms import rho_diag
from signgeom.tasks.base import ParameterBlock, check_partition
from signgeom.tasks.charlm.task import SIZES, CharLMTask
from signgeom.tasks.charlm.transformer import CharTransformer, TransformerSize
from signgeom.tasks.cifar.task import Cifar10Task

MICRO = TransformerSize(layers=1, width=4, heads=2, context=4)
VOCAB = 5


def _micro_problem():
    torch.manual_seed(3)
    model = CharTransformer(MICRO, VOCAB).double()
    with torch.no_grad():  # away from the near-zero init, so every block has curvature
        for p in model.parameters():
            p.copy_(0.7 * torch.randn_like(p))
    gen = torch.Generator().manual_seed(4)
    x = torch.randint(0, VOCAB, (10, MICRO.context), generator=gen)
    y = torch.randint(0, VOCAB, (10, MICRO.context), generator=gen)
    return model, make_chunks(x, y, 10, 4)  # uneven chunks 4, 4, 2


def _pair_rho_range(Hb: np.ndarray) -> tuple[float, float]:
    """Smallest and largest rho_diag over every 2 x 2 principal block (non-zero ones)."""
    i, j = np.triu_indices(Hb.shape[0], 1)
    a, b, c = np.abs(Hb[i, i]), np.abs(Hb[j, j]), np.abs(Hb[i, j])
    keep = a + b + c > 0
    rho = (a + b)[keep] / (a + b + 2 * c)[keep]
    return float(rho.min()), float(rho.max())


def _dense_hessian(model, loss_fn, chunks) -> tuple[np.ndarray, list[str], list[int]]:
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    n = sum(int(y.shape[0]) for _, y in chunks)

    def f(flat: torch.Tensor) -> torch.Tensor:
        params = dict(
            zip(
                names,
                (t.view(s) for t, s in zip(flat.split(sizes), shapes, strict=True)),
                strict=True,
            )
        )
        return sum(loss_fn(functional_call(model, params, (x,)), y) * (y.shape[0] / n)
                   for x, y in chunks)  # fmt: skip

    # reverse over reverse (double backward), independent of the operator's forward over reverse
    with second_order_kernels():
        H = torch.autograd.functional.hessian(f, flat0).numpy()
    assert np.abs(H - H.T).max() <= 1e-10 * np.abs(H).max()
    return H, names, sizes


@pytest.mark.parametrize("block_size", [2, 128])
def test_block_statistics_match_the_dense_hessians_diagonal_blocks(block_size):
    """block_size 2: every block by Lanczos, Hutchinson and sampled 2 x 2 sub-blocks;
    128 (above every d_b): every block dense, all exact."""
    model, chunks = _micro_problem()
    task = CharLMTask({"micro": MICRO})
    loss_fn = task.hessian_loss()
    blocks = task.parameter_blocks(model)
    H, names, sizes = _dense_hessian(model, loss_fn, chunks)
    starts = dict(zip(names, np.concatenate([[0], np.cumsum(sizes)[:-1]]), strict=True))
    numel = dict(zip(names, sizes, strict=True))
    s = unit_settings(HessianMethod, lanczos_tol=1e-10, lanczos_ncv=20, n_probes=200,
                      block_size=block_size, n_random_blocks=3, seed=0)  # fmt: skip
    rows = block_statistics(model, loss_fn, chunks, blocks, s, "batch_stats")
    assert [r["block"] for r in rows] == [b.name for b in blocks]
    for block, row in zip(blocks, rows, strict=True):
        index = np.concatenate([starts[n] + np.arange(numel[n]) for n in block.parameters])
        Hb = H[np.ix_(index, index)]
        exact_trace = float(np.trace(Hb))
        assert row["d_block"] == len(index)
        assert row["lambda_max"] == pytest.approx(np.linalg.eigvalsh(Hb)[-1], rel=1e-6, abs=1e-9)
        assert row["lambda_bar"] == pytest.approx(row["trace"] / len(index))
        if block_size >= len(index):
            assert row["trace"] == pytest.approx(exact_trace, rel=1e-9, abs=1e-12)
            assert row["trace_se"] == 0.0
            assert row["rho_diag"] == pytest.approx(float(rho_diag(Hb)), rel=1e-9)
        else:  # Hutchinson: unbiased, within 5 standard errors of the exact trace
            assert row["trace_se"] > 0
            assert abs(row["trace"] - exact_trace) <= 5 * row["trace_se"]
            lo, hi = _pair_rho_range(Hb)  # a mean of sampled 2 x 2 blocks' rho_diag
            assert lo - 1e-12 <= row["rho_diag"] <= hi + 1e-12
        assert row["n_hvp"] > 0


@pytest.mark.parametrize("name", sorted(SIZES))
def test_charlm_blocks_partition_every_parameter_with_the_named_roles(name):
    task = CharLMTask()
    model = CharTransformer(SIZES[name], 7)
    blocks = task.parameter_blocks(model)
    check_partition(model, blocks)
    roles = [b.role for b in blocks]
    layers = SIZES[name].layers
    assert roles.count("embedding_token") == roles.count("embedding_position") == 1
    for role in ("attn_query", "attn_key", "attn_value", "attn_out", "mlp_in", "mlp_out"):
        assert roles.count(role) == layers
    assert roles.count("norm") == 2 * layers + 1 and roles.count("head") == 1
    assert len(blocks) == 8 * layers + 4


@pytest.mark.parametrize("name", ["cnn", "resnet20"])
def test_cifar_blocks_are_the_layers_and_partition_every_parameter(name):
    task = Cifar10Task()
    model = task.build_model(name, None)
    blocks = task.parameter_blocks(model)
    check_partition(model, blocks)
    assert sum(p.numel() for b in blocks for p in _tensors(model, b)) == sum(
        p.numel() for p in model.parameters()
    )
    for b in blocks:  # a layer: one module's weight (and bias)
        assert {n.rsplit(".", 1)[-1] for n in b.parameters} <= {"weight", "bias"}
    if name == "cnn":
        assert len(blocks) == 6  # 4 conv + 2 dense layers


def _tensors(model, block):
    by_name = dict(model.named_parameters())
    return [by_name[n] for n in block.parameters]


def test_check_partition_refuses_a_missing_a_repeated_or_an_unknown_parameter():
    model = CharTransformer(SIZES["transformer-tiny"], 7)
    blocks = CharLMTask().parameter_blocks(model)
    with pytest.raises(ValueError, match="in none .*'token.weight'"):
        check_partition(model, blocks[1:])
    with pytest.raises(ValueError, match="in two blocks .*'token.weight'"):
        check_partition(model, [*blocks, ParameterBlock("again", "x", ("token.weight",))])
    with pytest.raises(ValueError, match="not trainable parameters .*'nope'"):
        check_partition(model, [*blocks, ParameterBlock("extra", "x", ("nope",))])


def test_a_layer_without_a_role_is_refused():
    model = CharTransformer(SIZES["transformer-tiny"], 7)
    model.extra = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="'extra' has no role"):
        CharLMTask().parameter_blocks(model)


def test_the_premises_stage_runs_on_the_language_model_against_its_dense_hessian():
    """The whole-network stage through the task interface: the spectrum's ends match the dense
    Hessian; a head of more than MAX_LAYER_BLOCK entries gives no last_layer block."""
    torch.manual_seed(5)
    vocab = 20  # head 20 x 4 = 80 entries
    model = CharTransformer(MICRO, vocab).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn_like(p))
    gen = torch.Generator().manual_seed(6)
    x = torch.randint(0, vocab, (6, MICRO.context), generator=gen)
    y = torch.randint(0, vocab, (6, MICRO.context), generator=gen)
    chunks = make_chunks(x, y, 6, 4)
    loss_fn = CharLMTask({"micro": MICRO}).hessian_loss()
    H, _, _ = _dense_hessian(model, loss_fn, chunks)
    lam = np.linalg.eigvalsh(H)
    s = unit_settings(HessianMethod, top_k=2, lanczos_tol=1e-10, n_probes=4, block_size=4,
                      n_random_blocks=1, n_contiguous_blocks=1)  # fmt: skip
    est = estimate_hessian(model, loss_fn, chunks, s, "batch_stats", density=False)
    assert est.row["lambda_max"] == pytest.approx(lam[-1], rel=1e-7)
    assert est.row["lambda_min"] == pytest.approx(lam[0], rel=1e-7)
    assert [b["kind"] for b in est.blocks] == ["random", "contiguous"]
    assert np.isnan(est.row["rho_diag_last_layer"])
