"""K training trajectories of one model and optimizer in one process, stacked with torch.func.

Member ``k`` has its own step size ``lr_k`` and seed ``s_k``: its initial parameters, minibatch
order, augmentation draws and dropout masks are those of the separate run
``signgeom.training.train`` makes from ``(lr_k, s_k)``; the other settings are shared. One step
evaluates all members together,

    (g_k, loss_k)_k = vmap(grad(loss))(theta_stacked, buffers_stacked, masks, x_stacked, y),

``theta_stacked`` the K parameter sets stacked on a leading axis
(``torch.func.stack_module_state``) and ``x_stacked[k]`` member k's minibatch: a vmapped
convolution is one grouped convolution over the K members. Then each member's optimizer steps.

- **Batch norm.** The running statistics are stacked buffers (K, C), vmapped like the
  parameters: batch norm's in-place update of a *batched* running buffer inside ``vmap`` is
  supported and updates each member's slice with its own batch statistics (only a buffer shared
  by all members, ``in_dims=None``, is refused by ``vmap``). ``num_batches_tracked`` counts per
  member too.
- **Optimizers.** Every member has its own instance of the registered optimizer
  (``signgeom.training.train.run_optimizer``, as a separate run builds it) over
  parameters that are views into the stacked tensors: the update rule is the registered code,
  whatever it is (elementwise, Muon, rotated), and writes into the stack in place.
- **Dropout.** Masks are drawn per member from its own generator, in the order the dropout
  layers run, and passed in as buffers (``vmap`` itself refuses random ops here). On the CPU the
  generator starts where a separate run's global generator is after the initialisation and the
  draw is ``bernoulli_(1 - p) / (1 - p)`` as ``torch.nn.functional.dropout``'s, so the masks are
  the separate run's; CUDA's fused dropout draws differently (Philox offsets), so there a
  member's masks are its own reproducible stream, not the separate run's.
- **Divergence.** As in ``train.train_epoch``: on the CPU a member whose minibatch loss is not
  finite stops for the rest of the epoch (no step; its batch-norm buffers are restored after
  each later step of the others); on CUDA losses are checked once per epoch by the caller.

Members equal separate runs to rounding (grouped against single convolutions: float64 runs
agree to ~1e-14; in float32 a max-pooling near-tie that the rounding flips can move a whole
trajectory by ~1e-4 within a few steps); members are independent (no value of one member enters
another's computation). :attr:`StackedTrainer.members` are ordinary modules that share storage
with the stack (evaluation, ``state_dict``). The caller sets the numerics
(``signgeom.training.device.setup_device``); ``channels_last`` and ``compile`` are refused.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, stack_module_state, vmap

from signgeom.tasks.cifar.augment import build_augmenter
from signgeom.tasks.cifar.models import build_model
from signgeom.training.device import autocast
from signgeom.training.run_settings import TrainSettings
from signgeom.training.train import epoch_seed, run_optimizer

MEMBER_FIELDS = ("lr", "seed")  # what may differ between the members of one stack
RANDOM_MODULES = (nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


class MaskedDropout(nn.Module):
    """``nn.Dropout`` whose train-mode mask (already scaled by ``1 / (1 - p)``) is the buffer
    ``mask``, supplied per call through ``functional_call``; identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.register_buffer("mask", torch.empty(0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask if self.training and self.p > 0 else x


def _with_masked_dropout(net: nn.Module) -> tuple[nn.Module, list[tuple[str, float]]]:
    """A copy of ``net`` (on the meta device) with every ``nn.Dropout`` a :class:`MaskedDropout`,
    and the dropout layers' ``(name, p)``."""
    template = copy.deepcopy(net).to("meta")
    dropouts = []
    for name, module in list(template.named_modules()):
        if isinstance(module, RANDOM_MODULES):
            raise ValueError(f"stacked training supports nn.Dropout only; {name!r} is {module}")
        if type(module) is nn.Dropout:
            parent, _, leaf = name.rpartition(".")
            setattr(template.get_submodule(parent), leaf, MaskedDropout(module.p))
            dropouts.append((name, module.p))
    return template, dropouts


def check_stackable(settings: Sequence[TrainSettings]) -> None:
    """The settings may differ in ``MEMBER_FIELDS`` only, else ``ValueError`` naming the field."""
    if not settings:
        raise ValueError("a stack needs at least one member")
    first = dataclasses.asdict(settings[0])
    for k, s in enumerate(settings[1:], start=1):
        other = dataclasses.asdict(s)
        differ = [f for f in first if f not in MEMBER_FIELDS and first[f] != other[f]]
        if differ:
            raise ValueError(
                f"member {k} differs from member 0 in {differ}; a stack shares everything "
                f"but {MEMBER_FIELDS}"
            )


class StackedTrainer:
    """K members of one ``(model, optimizer, ...)`` configuration with their own lr and seed."""

    def __init__(self, settings: Sequence[TrainSettings], device: torch.device) -> None:
        check_stackable(settings)
        self.settings, self.device = list(settings), device
        cfg = settings[0]
        if cfg.channels_last or cfg.compile:
            raise ValueError("stacked training supports neither channels_last nor compile")
        self.members: list[nn.Module] = []
        self.generators: list[torch.Generator] = []
        for s in settings:
            torch.manual_seed(s.seed)  # as train._setup: the seed, then the model
            self.members.append(build_model(cfg.network).to(device))
            gen = torch.Generator(device)
            if device.type == "cpu":
                gen.set_state(torch.get_rng_state())  # where a separate run's dropout starts
            else:
                gen.manual_seed(s.seed)
            self.generators.append(gen)
        params, buffers = stack_module_state(self.members)
        self.params = {n: p.detach() for n, p in params.items()}
        self.buffers = {n: b.detach() for n, b in buffers.items()}
        self._alias_members()
        self.template, self.dropouts = _with_masked_dropout(self.members[0])
        self.optimizers = [
            run_optimizer(s, net) for s, net in zip(settings, self.members, strict=True)
        ]
        self._layouts: dict[tuple, list[tuple]] = {}
        self._step = vmap(grad(self._member_loss, has_aux=True))

    def __len__(self) -> int:
        return len(self.members)

    def _alias_members(self) -> None:
        """Point every member's parameters and buffers at its slice of the stack."""
        for k, net in enumerate(self.members):
            for name, stacked in self.params.items():
                parent, _, leaf = name.rpartition(".")
                setattr(net.get_submodule(parent), leaf, nn.Parameter(stacked[k]))
            for name, stacked in self.buffers.items():
                parent, _, leaf = name.rpartition(".")
                setattr(net.get_submodule(parent), leaf, stacked[k])

    def _member_loss(self, params, buffers, masks, x, y):
        with autocast(self.device, self.settings[0].precision):
            out = functional_call(self.template, (params, {**buffers, **masks}), (x,))
        loss = F.cross_entropy(out.float(), y)
        return loss, loss.detach()

    def _dropout_layouts(self, example: torch.Tensor) -> list[tuple]:
        """The shapes, strides and dtypes of the dropout layers' inputs, in call order, for a
        minibatch laid out as ``example`` (cached per layout): one eval-mode forward of member
        0, no grad, which draws nothing and leaves the running statistics alone. Strides matter:
        dropout fills its mask in memory order (channels-last inputs from augmentation)."""
        key = (tuple(example.shape), example.stride(), example.dtype)
        if key not in self._layouts:
            net, layouts = self.members[0], []
            hooks = [
                m.register_forward_pre_hook(
                    lambda _, inp: layouts.append((inp[0].shape, inp[0].stride(), inp[0].dtype))
                )
                for m in net.modules()
                if type(m) is nn.Dropout
            ]
            net.eval()
            with torch.no_grad(), autocast(self.device, self.settings[0].precision):
                net(example)
            net.train()
            for h in hooks:
                h.remove()
            self._layouts[key] = layouts
        return self._layouts[key]

    def _masks(self, example: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each member's dropout masks, ``bernoulli(1 - p) / (1 - p)`` from its generator in
        call order and in the layout of a separate run's, stacked: ``{"<layer>.mask": (K,
        ...)}``; ``example`` is a minibatch in the members' layout."""
        layouts = self._dropout_layouts(example)
        per_member = []
        for gen in self.generators:
            draws = []
            for (_, p), (shape, stride, dtype) in zip(self.dropouts, layouts, strict=True):
                noise = torch.empty_strided(shape, stride, dtype=dtype, device=self.device)
                draws.append(noise.bernoulli_(1 - p, generator=gen).div_(1 - p))
            per_member.append(draws)
        return {
            f"{name}.mask": torch.stack([draws[i] for draws in per_member])
            for i, (name, _) in enumerate(self.dropouts)
        }

    def train_epoch(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        epoch: int,
        active: Sequence[bool] | None = None,
    ) -> list[float]:
        """One epoch of every active member (its order and augmentation from
        ``epoch_seed(seed_k, epoch)``); returns each member's size-weighted mean minibatch loss
        (as ``train.train_epoch``), NaN for an inactive one (e.g. diverged: it is computed
        along but stays as it is)."""
        cfg, n, k_members = self.settings[0], x.shape[0], len(self)
        for net in self.members:
            net.train()
        perms, augments = [], []
        for s in self.settings:
            gen = torch.Generator().manual_seed(epoch_seed(s.seed, epoch))
            perms.append(torch.randperm(n, generator=gen).to(x.device))
            augments.append(build_augmenter(cfg.augmentation)(n, gen, x.device))
        check_each_step = x.device.type == "cpu"
        alive = [True] * k_members if active is None else list(active)
        frozen = {k: self._member_buffers(k) for k in range(k_members) if not alive[k]}
        loss_sum = torch.zeros(k_members, dtype=torch.float64, device=x.device)
        seen = [0] * k_members
        for start in range(0, n, cfg.batch_size):
            idx = [perm[start : start + cfg.batch_size] for perm in perms]
            xs = [a(x.index_select(0, i), i) for a, i in zip(augments, idx, strict=True)]
            yb = torch.stack([y.index_select(0, i) for i in idx])
            masks = self._masks(xs[0]) if self.dropouts else {}
            xb = torch.stack(xs)
            grads, losses = self._step(self.params, self.buffers, masks, xb, yb)
            for k in frozen:  # stopped members: their running statistics stay as they were
                for name, saved in frozen[k].items():
                    self.buffers[name][k].copy_(saved)
            finite = torch.isfinite(losses).tolist() if check_each_step else [True] * k_members
            for k in range(k_members):
                if not alive[k]:
                    continue
                loss_sum[k] += losses[k] * idx[k].numel()
                seen[k] += idx[k].numel()
                if not finite[k]:
                    alive[k] = False
                    frozen[k] = self._member_buffers(k)
                    continue
                for name, p in self.members[k].named_parameters():
                    p.grad = grads[name][k]
                self.optimizers[k].step()
        for net in self.members:
            for p in net.parameters():
                p.grad = None
        sums = loss_sum.tolist()
        return [v / s if s else float("nan") for v, s in zip(sums, seen, strict=True)]

    def _member_buffers(self, k: int) -> dict[str, torch.Tensor]:
        return {name: b[k].clone() for name, b in self.buffers.items()}


def stacked_settings(base: TrainSettings, lrs: Sequence[float], seeds: Sequence[int]):
    """``base`` with each ``(lr, seed)`` pair: the members of one stack."""
    if len(lrs) != len(seeds):
        raise ValueError(f"need one seed per lr, got {len(lrs)} lrs and {len(seeds)} seeds")
    return [
        dataclasses.replace(base, lr=lr, seed=seed) for lr, seed in zip(lrs, seeds, strict=True)
    ]
