"""Architecture checks of the Figure 3 models."""

import math

import pytest
import torch
from torch import nn

from signgeom.tasks.cifar.models import MODELS, BasicBlock, ShortcutA, build_model


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("name", "count"), [("cnn", 1_250_858), ("resnet20", 269_722)])
def test_parameter_count_and_forward_shape(name, count):
    torch.manual_seed(0)
    model = build_model(name)
    assert _n_params(model) == count
    out = model(torch.randn(4, 3, 32, 32))
    assert out.shape == (4, 10)
    assert out.dtype == torch.float32


def test_num_classes():
    assert build_model("resnet20", num_classes=100)(torch.randn(2, 3, 32, 32)).shape == (2, 100)


def test_cnn_keras_init():
    model = build_model("cnn")
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            fan_in = m.weight[0].numel()
            fan_out = m.weight.shape[0] * m.weight[0, 0].numel()
            assert m.weight.abs().max() <= math.sqrt(6 / (fan_in + fan_out))
            assert torch.count_nonzero(m.bias) == 0


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = torch.randn(2, 16, 32, 32)
    y = ShortcutA(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 16, 16)
    torch.testing.assert_close(y[:, 8:24], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, :8]) == 0 and torch.count_nonzero(y[:, 24:]) == 0


def test_resnet20_stage_shapes_and_shortcuts():
    model = build_model("resnet20").eval()
    blocks = list(model.stages)
    assert len(blocks) == 9 and all(isinstance(b, BasicBlock) for b in blocks)
    kinds = [type(b.shortcut) for b in blocks]
    assert kinds == [nn.Identity] * 3 + [ShortcutA, nn.Identity, nn.Identity] * 2
    assert all(not list(b.shortcut.parameters()) for b in blocks)
    x = model.stem(torch.randn(2, 3, 32, 32))
    shapes = []
    for b in blocks:
        x = b(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(16, 32, 32)] * 3 + [(32, 16, 16)] * 3 + [(64, 8, 8)] * 3


def test_unknown_model_lists_known_names():
    with pytest.raises(ValueError, match="cnn.*resnet20"):
        build_model("vgg16")
    assert set(MODELS) == {"cnn", "resnet20"}
