"""The paper's premises measured on the network Hessian along the Figure 3 trajectories.

With H the Hessian of the mean loss over the fixed chunks (the smoothness estimate's data and
module mode, :func:`signgeom.cifar.smoothness.fixed_mode`) and d parameters:

- ``lambda_max`` (and the next ``top_k - 1`` eigenvalues) and ``lambda_min`` by Lanczos
  (``scipy.sparse.linalg.eigsh`` on curvlinops' ``HessianLinearOperator``);
- ``trace(H)`` by Hutchinson deflated with the top-k Ritz vectors V (Hutch++-style):
  ``tr H = tr(V^T H V) + tr(P H P)``, ``P = I - V V^T``, the first term exact, the second the
  mean of ``z^T P H P z`` over Rademacher probes z, with standard error ``std / sqrt(n)``;
  ``lambda_bar = tr H / d`` and ``lambda_max / lambda_bar``;
- the spectral density by stochastic Lanczos quadrature: Ritz values (nodes) and squared first
  components (weights) of ``slq_steps`` Lanczos steps from ``slq_repeats`` random starts
  (Papyan 2020), ``density ~ mean_r sum_j w_rj delta(lambda - node_rj)``;
- exact principal k x k blocks ``H_II = E_I^T H E_I`` from k Hessian-vector products, for
  random coordinate sets I (scattered over all d, and contiguous in one parameter tensor) and
  the model's last parameter (the final linear layer's bias): ``rho_diag``, ``lambda_max``,
  ``lambda_bar``, ``lambda_min``, exact ``||H_II||_{inf,1}`` (``k <= max_exact_dim``), the
  Prop. 3 bound ``tr / rho_diag`` (PSD blocks only), and on the block seen as a quadratic the
  improvement ratio ``R_I = phi(g_I) k ||H_II||_2 / ||H_II||_{inf,1}`` (``lambda_max`` for PSD
  blocks) next to its Eq. 13
  bound ``rho_diag (lambda_max / lambda_bar) phi(g_I)``;
- ``phi(g)`` of the full gradient on the same chunks, and the Eq. 13 expression
  ``rho_diag (lambda_max / lambda_bar) phi(g)`` with the mean block ``rho_diag`` in place of the
  (unmeasurable, d x d) full one.

Batch norm: torch.func's second derivatives through ``F.batch_norm`` with batch statistics and
an affine weight are silently wrong in torch 2.14 (pytorch/pytorch#196699; curvlinops builds its
HVPs with torch.func). :func:`split_affine_batchnorm` applies the affine map outside
``F.batch_norm`` while the operator runs; the function is the same, its derivatives are right.

Every random draw comes from a seeded generator inside ``torch.random.fork_rng``: the stage
leaves the global RNG states, the parameters and the buffers bitwise unchanged.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from curvlinops import HessianLinearOperator
from curvlinops.papyan2020traces.spectrum import fast_lanczos
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh
from torch import nn

from signgeom.cifar.checkpoint import load_snapshot
from signgeom.cifar.device import DEVICE_CHOICES, setup_device
from signgeom.cifar.rundir import RunDir
from signgeom.cifar.smoothness import (
    BN_MODES,
    Chunks,
    fixed_mode,
    full_gradient,
    gradient_density,
    make_chunks,
)
from signgeom.cli import run_cli
from signgeom.io import write_rows
from signgeom.norms import DEFAULT_MAX_EXACT_DIM, inf_to_one_norm, rho_diag
from signgeom.progress import Progress

log = logging.getLogger(__name__)

BLOCK_KINDS = ("random", "contiguous", "last_layer")
MAX_LAYER_BLOCK = 64
"""Largest last-layer block (one HVP per coordinate); the CIFAR models' final bias has 10."""
PSD_TOL = 1e-6
"""A block counts as PSD when ``lambda_min >= -PSD_TOL * max(|lambda|)`` (float32 HVPs)."""

EPOCH_COLUMNS = [
    "model",
    "optimizer",
    "lr",
    "seed",
    "epoch",
    "d",
    "n_examples",
    "loss",
    "phi",
    "lambda_max",
    "lambda_2",
    "lambda_min",
    "lanczos_converged",
    "trace",
    "trace_se",
    "trace_deflated_part",
    "lambda_bar",
    "lambda_bar_se",
    "ratio",
    "ratio_lo",
    "ratio_hi",
    "rho_diag_random",
    "rho_diag_contiguous",
    "rho_diag_last_layer",
    "eq13_random",
    "eq13_contiguous",
    "eq13_last_layer",
    "n_hvp",
    "seconds",
    "bn_mode",
]
BLOCK_COLUMNS = [
    "model",
    "optimizer",
    "epoch",
    "kind",
    "block",
    "k",
    "rho_diag",
    "lambda_max",
    "lambda_min",
    "lambda_bar",
    "ratio",
    "psd",
    "asymmetry",
    "linf1",
    "prop3_bound",
    "phi",
    "R",
    "eq13_bound",
]
DENSITY_COLUMNS = ["model", "optimizer", "epoch", "repeat", "node", "weight"]


class CountingOperator(LinearOperator):
    """SciPy view of a torch operator ``op`` (float64 in and out); counts its columns."""

    def __init__(self, op: HessianLinearOperator) -> None:
        super().__init__(dtype=np.float64, shape=op.shape)
        self.op = op
        self.n_hvp = 0

    def _torch(self, x: torch.Tensor) -> torch.Tensor:
        self.n_hvp += 1
        return self.op @ x.to(self.op.dtype)

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(np.asarray(x).reshape(-1), device=self.op.device)
        return self._torch(t).double().cpu().numpy()

    def _matmat(self, x: np.ndarray) -> np.ndarray:
        # column by column: curvlinops' vmap over columns costs more than a loop on the CPU
        # (measured 4.7x for 4 columns on the CNN) and holds one activation set per column
        return np.stack([self._matvec(col) for col in np.asarray(x).T], axis=1)

    def _adjoint(self) -> CountingOperator:
        return self


@contextmanager
def split_affine_batchnorm(model: nn.Module) -> Iterator[nn.Module]:
    """Affine batch-norm layers compute ``F.batch_norm(x, affine=None) * w + b`` meanwhile.

    Same function and same module modes (a layer that would update its running statistics is
    refused); it works around wrong torch.func second derivatives of the fused affine form.
    """
    bns = [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None
    ]

    def split_forward(m: nn.modules.batchnorm._BatchNorm):
        def forward(x: torch.Tensor) -> torch.Tensor:
            if m.training and m.track_running_stats:
                raise RuntimeError("batch norm would update its running statistics")
            use_running = not m.training
            y = F.batch_norm(
                x,
                m.running_mean if use_running else None,
                m.running_var if use_running else None,
                None,
                None,
                m.training or m.running_mean is None,
                0.0,
                m.eps,
            )
            shape = (1, -1) + (1,) * (x.ndim - 2)
            return y * m.weight.view(shape) + m.bias.view(shape)

        return forward

    for m in bns:
        m.forward = split_forward(m)
    try:
        yield model
    finally:
        for m in bns:
            del m.forward


def hessian_operator(
    model: nn.Module, loss_fn: nn.Module, chunks: Chunks, params: Sequence[torch.Tensor]
) -> HessianLinearOperator:
    """Hessian of ``sum_k (n_k / n) loss_k`` (the :func:`full_gradient` weighting) as an operator.

    Call it, and multiply with it, inside :func:`fixed_mode`: the operator runs the model in its
    current mode. ``loss_fn`` must have ``reduction="mean"``.
    """
    if getattr(loss_fn, "reduction", None) != "mean":
        raise ValueError("loss_fn must be a torch loss module with reduction='mean'")
    n = sum(int(y.shape[0]) for _, y in chunks)
    return HessianLinearOperator(
        model, loss_fn, list(params), list(chunks), check_deterministic=False, num_data=n
    )


@dataclass
class Spectrum:
    """Top eigenpairs (descending), the most negative eigenvalue and convergence flags."""

    top: np.ndarray
    vectors: np.ndarray
    lambda_min: float
    converged: bool


def lanczos_extremes(
    op: LinearOperator,
    top_k: int,
    rng: np.random.Generator,
    tol: float = 1e-3,
    ncv: int = 20,
) -> Spectrum:
    """``eigsh`` for the ``top_k`` largest (``which="LA"``) and the smallest eigenvalue.

    ``tol`` is ARPACK's relative accuracy and ``ncv`` its number of Lanczos vectors (more:
    fewer restarts, more memory); on no convergence the converged part is kept (the top set
    then may have fewer entries) and ``converged`` is False.
    """
    d = op.shape[0]
    if not 1 <= top_k < d:
        raise ValueError(f"need 1 <= top_k < d = {d}, got {top_k}")
    converged = True
    ncv = min(d, max(top_k + 2, ncv))
    try:
        vals, vecs = eigsh(op, k=top_k, which="LA", tol=tol, ncv=ncv, v0=rng.standard_normal(d))
    except ArpackNoConvergence as err:
        vals, vecs, converged = err.eigenvalues, err.eigenvectors, False
    order = np.argsort(vals)[::-1]
    try:
        lo = eigsh(op, k=1, which="SA", tol=tol, ncv=ncv, v0=rng.standard_normal(d))[0]
        lam_min = float(lo[0])
    except ArpackNoConvergence as err:
        lam_min = float(err.eigenvalues.min()) if len(err.eigenvalues) else math.nan
        converged = False
    return Spectrum(vals[order], vecs[:, order], lam_min, converged)


@dataclass
class TraceEstimate:
    """``trace = exact + mean(samples)``; ``se`` the standard error of the mean."""

    trace: float
    se: float
    exact: float
    samples: np.ndarray = field(repr=False)


def deflated_hutchinson(
    op: LinearOperator, vectors: np.ndarray, n_probes: int, rng: np.random.Generator
) -> TraceEstimate:
    """``tr H = tr(V^T H V) + E_z[z^T P H P z]``, ``P = I - V V^T``, z Rademacher.

    ``V`` (d x m, orthonormal columns, m >= 0) is deflated exactly (m HVPs); the rest is
    Hutchinson with ``n_probes`` probes. With ``m = d`` the estimate is exact and ``se = 0``.
    """
    d = op.shape[0]
    V = np.asarray(vectors, dtype=np.float64).reshape(d, -1)
    exact = float(np.trace(V.T @ (op @ V))) if V.shape[1] else 0.0
    if n_probes < 2:
        raise ValueError(f"need at least 2 probes for a standard error, got {n_probes}")
    Z = rng.choice([-1.0, 1.0], size=(d, n_probes))
    PZ = Z - V @ (V.T @ Z)
    samples = np.einsum("ij,ij->j", PZ, op @ PZ)
    if V.shape[1] == d:  # nothing left to estimate (P = 0 up to round-off)
        samples = np.zeros(n_probes)
    se = float(samples.std(ddof=1) / math.sqrt(n_probes))
    return TraceEstimate(exact + float(samples.mean()), se, exact, samples)


def slq_nodes_weights(
    op: HessianLinearOperator, steps: int, repeats: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per repeat: Ritz values and squared first eigenvector components of ``steps`` Lanczos
    steps from a random start (curvlinops' ``fast_lanczos``, Papyan 2020, Alg. 2)."""
    out = []
    devices = [op.device.index or 0] if op.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for _ in range(repeats):
            evals, evecs = fast_lanczos(op, steps)
            out.append((evals.double().cpu().numpy(), (evecs[0] ** 2).double().cpu().numpy()))
    return out


def block_hessian(op: LinearOperator, index: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact principal block ``H[I, I]`` from ``k`` HVPs (columns ``H e_i``), symmetrised.

    ``op`` may be the Hessian of a parameter subset (then ``index`` counts within it). Returns
    the block and its relative asymmetry ``||B - B^T||_F / ||B||_F`` before symmetrisation.
    """
    d = op.shape[0]
    B = np.empty((len(index), len(index)))
    for j, i in enumerate(index):
        e = np.zeros(d)
        e[i] = 1.0
        B[:, j] = (op @ e)[index]
    norm = np.linalg.norm(B)
    asym = float(np.linalg.norm(B - B.T) / norm) if norm > 0 else 0.0
    return 0.5 * (B + B.T), asym


def block_quantities(
    B: np.ndarray, g: np.ndarray, max_exact_dim: int = DEFAULT_MAX_EXACT_DIM
) -> dict:
    """The paper's quantities of one symmetric block ``B`` with gradient part ``g``.

    ``linf1``, ``prop3_bound``, ``R`` and ``eq13_bound`` need ``k <= max_exact_dim`` (else NaN);
    ``prop3_bound`` and ``eq13_bound`` assume PSD and are NaN for an indefinite block; an
    all-zero block (e.g. coordinates of units dead on every example) has NaN ``rho_diag``.
    """
    k = B.shape[0]
    lam = np.linalg.eigvalsh(B)
    lam_max, lam_min = float(lam[-1]), float(lam[0])
    lam_bar = float(np.trace(B)) / k
    rho = float(rho_diag(B)) if np.abs(B).sum() > 0 else math.nan  # 0/0 on a zero block
    psd = lam_min >= -PSD_TOL * max(abs(lam_max), abs(lam_min))
    ratio = lam_max / lam_bar if lam_bar > 0 else math.nan
    phi = gradient_density(torch.as_tensor(g))
    linf1 = float(inf_to_one_norm(B, max_exact_dim)) if k <= max_exact_dim else math.nan
    l2 = max(lam_max, -lam_min)  # ||B||_2, the L_2 smoothness of the quadratic (any sign)
    R = phi * k * l2 / linf1 if linf1 > 0 else math.nan
    return {
        "k": k,
        "rho_diag": rho,
        "lambda_max": lam_max,
        "lambda_min": lam_min,
        "lambda_bar": lam_bar,
        "ratio": ratio,
        "psd": bool(psd),
        "linf1": linf1,
        "prop3_bound": float(np.trace(B)) / rho if psd else math.nan,
        "phi": phi,
        "R": R,
        "eq13_bound": rho * ratio * phi if psd else math.nan,
    }


def block_indices(
    sizes: Sequence[int], kind: str, block_size: int, n_blocks: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Coordinate sets of one kind; ``sizes`` are the parameter tensors' numels in order.

    ``random``: ``block_size`` distinct coordinates uniformly over all d; ``contiguous``:
    ``block_size`` consecutive coordinates of one parameter tensor (drawn with probability
    proportional to its size, among those large enough) at a uniform offset; ``last_layer``:
    all coordinates of the last parameter tensor (one block, refused above ``MAX_LAYER_BLOCK``).
    """
    d = int(sum(sizes))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    if kind == "random":
        return [np.sort(rng.choice(d, size=block_size, replace=False)) for _ in range(n_blocks)]
    if kind == "contiguous":
        big = [i for i, s in enumerate(sizes) if s >= block_size]
        weights = np.array([sizes[i] for i in big], dtype=float)
        out = []
        for _ in range(n_blocks):
            i = big[rng.choice(len(big), p=weights / weights.sum())]
            off = int(rng.integers(0, sizes[i] - block_size + 1))
            out.append(starts[i] + off + np.arange(block_size))
        return out
    if kind == "last_layer":
        if sizes[-1] > MAX_LAYER_BLOCK:
            raise ValueError(
                f"the last parameter tensor has {sizes[-1]} entries; its block Hessian costs "
                f"one HVP per entry and is refused above {MAX_LAYER_BLOCK}"
            )
        return [starts[-1] + np.arange(sizes[-1])]
    raise ValueError(f"block kind must be one of {BLOCK_KINDS}, got {kind!r}")


@dataclass
class HessianSettings:
    """Everything that sets the cost and the randomness of one estimate."""

    top_k: int = 2
    lanczos_tol: float = 1e-3
    lanczos_ncv: int = 20
    n_probes: int = 8
    block_size: int = 10
    n_random_blocks: int = 2
    n_contiguous_blocks: int = 1
    slq_steps: int = 0  # 0: no spectral density at this epoch
    slq_repeats: int = 1
    max_exact_dim: int = DEFAULT_MAX_EXACT_DIM
    seed: int = 0


@dataclass
class HessianEstimate:
    """One estimate at one point x: the per-epoch row, the block rows and the SLQ rows."""

    row: dict
    blocks: list[dict]
    density: list[dict]


@contextmanager
def _frozen_state(model: nn.Module) -> Iterator[None]:
    """Check on exit that parameters and buffers are bitwise unchanged (a bug otherwise)."""
    before = {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()}
    yield
    after = model.state_dict(keep_vars=True)
    changed = [k for k, v in before.items() if not torch.equal(v, after[k].detach())]
    if changed:
        raise RuntimeError(f"the Hessian stage changed the model's state: {changed}")


def _exact_blocks(
    model: nn.Module,
    loss_fn: nn.Module,
    chunks: Chunks,
    params: list[torch.Tensor],
    op: CountingOperator,
    g: np.ndarray,
    s: HessianSettings,
    rng: np.random.Generator,
) -> list[dict]:
    """``block_quantities`` of every block (``BLOCK_KINDS``) as rows; a block inside one
    parameter tensor takes its HVPs from that tensor's own, cheaper Hessian operator."""
    sizes = [p.numel() for p in params]
    counts = {"random": s.n_random_blocks, "contiguous": s.n_contiguous_blocks, "last_layer": 1}
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    blocks = []
    for kind in BLOCK_KINDS:
        for b, index in enumerate(block_indices(sizes, kind, s.block_size, counts[kind], rng)):
            t = int(np.searchsorted(starts, index[0], side="right")) - 1
            if index[-1] < starts[t + 1]:  # inside tensor t
                sub = CountingOperator(hessian_operator(model, loss_fn, chunks, [params[t]]))
                B, asym = block_hessian(sub, index - starts[t])
                op.n_hvp += sub.n_hvp
            else:
                B, asym = block_hessian(op, index)
            q = block_quantities(B, g[index], s.max_exact_dim)
            blocks.append({"kind": kind, "block": b, "asymmetry": asym, **q})
    return blocks


def _spectral_density(hop: HessianLinearOperator, s: HessianSettings) -> list[dict]:
    """SLQ nodes and weights as rows (none when ``s.slq_steps`` is 0)."""
    if s.slq_steps <= 0:
        return []
    slq = slq_nodes_weights(hop, s.slq_steps, s.slq_repeats, s.seed + 1)
    return [
        {"repeat": r, "node": float(a), "weight": float(w)}
        for r, (nodes, weights) in enumerate(slq)
        for a, w in zip(nodes, weights, strict=True)
    ]


def estimate_hessian(
    model: nn.Module,
    loss_fn: nn.Module,
    chunks: Chunks,
    settings: HessianSettings,
    bn_mode: str = "batch_stats",
) -> HessianEstimate:
    """All quantities of the module docstring at the model's current parameters."""
    s = settings
    params = [p for p in model.parameters() if p.requires_grad]
    t0 = time.perf_counter()
    rng = np.random.default_rng(s.seed)
    with ExitStack() as stack, _frozen_state(model), fixed_mode(model, bn_mode):
        g_t = full_gradient(model, loss_fn, chunks, params)  # as in the smoothness estimate
        n = sum(int(y.shape[0]) for _, y in chunks)
        with torch.no_grad():
            loss = sum(float(loss_fn(model(x), y)) * y.shape[0] / n for x, y in chunks)
        g = g_t.double().cpu().numpy()
        stack.enter_context(split_affine_batchnorm(model))
        d = g.size
        hop = hessian_operator(model, loss_fn, chunks, params)
        op = CountingOperator(hop)
        spec = lanczos_extremes(op, s.top_k, rng, s.lanczos_tol, s.lanczos_ncv)
        tr = deflated_hutchinson(op, spec.vectors, s.n_probes, rng)
        blocks = _exact_blocks(model, loss_fn, chunks, params, op, g, s, rng)
        density = _spectral_density(hop, s)
        op.n_hvp += s.slq_steps * s.slq_repeats
    phi = gradient_density(g_t)
    lam_max = float(spec.top[0])
    lam_bar, lam_bar_se = tr.trace / d, tr.se / d
    ratio = lam_max / lam_bar if lam_bar > 0 else math.nan
    lo = tr.trace - 2 * tr.se  # ratio's range for trace +- 2 se
    hi = tr.trace + 2 * tr.se
    row = {
        "d": d,
        "n_examples": n,
        "loss": loss,
        "phi": phi,
        "lambda_max": lam_max,
        "lambda_2": float(spec.top[1]) if len(spec.top) > 1 else math.nan,
        "lambda_min": spec.lambda_min,
        "lanczos_converged": spec.converged,
        "trace": tr.trace,
        "trace_se": tr.se,
        "trace_deflated_part": tr.exact,
        "lambda_bar": lam_bar,
        "lambda_bar_se": lam_bar_se,
        "ratio": ratio,
        "ratio_lo": lam_max * d / hi if hi > 0 else math.nan,
        "ratio_hi": lam_max * d / lo if lo > 0 else math.inf,
        "bn_mode": bn_mode,
    }
    for kind in BLOCK_KINDS:
        rhos = [b["rho_diag"] for b in blocks if b["kind"] == kind]
        rhos = [r for r in rhos if math.isfinite(r)]  # zero blocks (dead units) have none
        rho = float(np.mean(rhos)) if rhos else math.nan
        row[f"rho_diag_{kind}"] = rho
        row[f"eq13_{kind}"] = rho * ratio * phi
    row["n_hvp"] = op.n_hvp
    row["seconds"] = time.perf_counter() - t0
    return HessianEstimate(row, blocks, density)


def select_epochs(epochs: Sequence[int], stride: int, slq_every: int) -> tuple[list, set]:
    """Every ``stride``-th snapshot epoch counted back from the last, and the SLQ subset:
    every ``slq_every``-th of those, again from the last (0: none)."""
    if stride < 1 or slq_every < 0:
        raise ValueError(f"need stride >= 1 and slq_every >= 0, got {stride}, {slq_every}")
    chosen = sorted(epochs)[::-1][::stride]
    slq = set(chosen[::slq_every]) if slq_every > 0 else set()
    return sorted(chosen), slq


def estimate_run(
    *,
    model: str,
    run_dir: str | Path,
    trajectory_optimizer: str,
    settings: HessianSettings,
    stride: int,
    slq_every: int,
    bn_mode: str,
    n_examples: int,
    chunk_size: int,
    data_dir: str | Path,
    device: str,
    out: str | Path,
    out_blocks: str | Path,
    out_density: str | Path,
) -> list[dict]:
    """Estimate at the selected snapshot epochs of ``run_dir``; writes the three tables."""
    from signgeom.cifar.data import load_cifar10
    from signgeom.cifar.models import build_model

    dev = setup_device(device)
    run = RunDir(run_dir)
    status = run.read_status()
    epochs, slq_epochs = select_epochs(run.snapshot_epochs(), stride, slq_every)
    data = load_cifar10(data_dir, device=dev, train_limit=n_examples, test_limit=0)
    chunks = make_chunks(data.train_x, data.train_y, n_examples, chunk_size)
    net = build_model(model).to(dev)
    loss_fn = nn.CrossEntropyLoss()
    key = {"model": model, "optimizer": trajectory_optimizer}
    rows, block_rows, density_rows = [], [], []
    meter = Progress(len(epochs), unit="estimate")
    log.info("%s: epochs %s (SLQ at %s), %s", run_dir, epochs, sorted(slq_epochs), settings)
    for i, epoch in enumerate(epochs):
        if not load_snapshot(net, run, epoch, dev):
            continue
        st = HessianSettings(**{**asdict(settings), "seed": settings.seed + epoch})
        if epoch not in slq_epochs:
            st.slq_steps = 0
        est = estimate_hessian(net, loss_fn, chunks, st, bn_mode)
        rows.append(
            {**key, "lr": status.get("lr"), "seed": status.get("seed"), "epoch": epoch, **est.row}
        )
        block_rows += [{**key, "epoch": epoch, **b} for b in est.blocks]
        density_rows += [{**key, "epoch": epoch, **r} for r in est.density]
        meter.update(i + 1)
        r = est.row
        log.info(
            "epoch %d | lmax %.4g | lmin %.4g | lbar %.4g +- %.2g | ratio %.4g | rho %.3g | "
            "phi %.3g | %d HVPs | %s",
            epoch,
            r["lambda_max"],
            r["lambda_min"],
            r["lambda_bar"],
            r["lambda_bar_se"],
            r["ratio"],
            r["rho_diag_random"],
            r["phi"],
            r["n_hvp"],
            meter.line(),
        )
    write_rows(rows, EPOCH_COLUMNS, out)
    write_rows(block_rows, BLOCK_COLUMNS, out_blocks)
    write_rows(density_rows, DENSITY_COLUMNS, out_density)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Hessian premises (outliers, rho_diag, Eq. 13).")
    p.add_argument("--model", required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--trajectory-optimizer", required=True)
    p.add_argument("--stride", type=int, required=True)
    p.add_argument("--top-k", type=int, required=True)
    p.add_argument("--lanczos-tol", type=float, required=True)
    p.add_argument("--lanczos-ncv", type=int, required=True)
    p.add_argument("--n-probes", type=int, required=True)
    p.add_argument("--block-size", type=int, required=True)
    p.add_argument("--n-random-blocks", type=int, required=True)
    p.add_argument("--n-contiguous-blocks", type=int, required=True)
    p.add_argument("--slq-every", type=int, required=True)
    p.add_argument("--slq-steps", type=int, required=True)
    p.add_argument("--slq-repeats", type=int, required=True)
    p.add_argument("--max-exact-dim", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--bn-mode", choices=BN_MODES, required=True)
    p.add_argument("--n-examples", type=int, required=True)
    p.add_argument("--chunk-size", type=int, required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--device", choices=DEVICE_CHOICES, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--out-blocks", required=True)
    p.add_argument("--out-density", required=True)
    args = vars(p.parse_args(argv))
    settings = HessianSettings(**{f.name: args.pop(f.name) for f in fields(HessianSettings)})
    estimate_run(settings=settings, **args)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
