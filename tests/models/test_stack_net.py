"""The stack model's network (mfif.models.stack_net)."""

from __future__ import annotations

import pytest
import torch

from mfif.models.generator import Generator
from mfif.models.stack_net import StackNet, StackNetConfig, frame_luma, stack_softmax_fusion


def test_shapes_and_gray_colour_agree() -> None:
    torch.manual_seed(0)
    net = StackNet(StackNetConfig(width=2, n_blocks=1)).eval()
    x = torch.rand(3, 3, 20, 24)
    z = net(x)
    assert z.shape == (3, 1, 20, 24)
    # the network reads luma: a colour frame and its luma give the same scores
    torch.testing.assert_close(net(frame_luma(x)), z)


def test_branch_comes_from_a_pair_generator() -> None:
    torch.manual_seed(0)
    gen = Generator(width=2, n_blocks=1, input_mode="gray")
    net = StackNet(StackNetConfig(width=2, n_blocks=1))
    copied = net.load_branch_from(gen.state_dict())
    assert copied == len(gen.branch.state_dict())
    for k, v in gen.branch.state_dict().items():
        assert torch.equal(net.branch.state_dict()[k], v)
    # a generator of another width shares nothing
    other = Generator(width=4, n_blocks=1, input_mode="gray")
    assert StackNet(StackNetConfig(width=2, n_blocks=1)).load_branch_from(other.state_dict()) < copied


def test_softmax_fusion_weights_sum_to_one_and_pick_the_max() -> None:
    logits = torch.tensor([[[[0.0]], [[50.0]], [[1.0]]]])  # B=1, N=3, 1×1
    frames = torch.tensor([0.1, 0.7, 0.3]).reshape(1, 3, 1, 1, 1)
    fused, w = stack_softmax_fusion(logits, frames)
    torch.testing.assert_close(w.sum(dim=1), torch.ones(1, 1, 1))
    assert abs(float(fused) - 0.7) < 1e-6


def test_the_depth_head_starts_as_a_copy_of_the_fusion_decoder() -> None:
    torch.manual_seed(0)
    net = StackNet(StackNetConfig(width=2, n_blocks=1, depth_head=True)).eval()
    x = torch.rand(3, 1, 16, 20)
    out = net(x)
    assert out.shape == (3, 2, 16, 20)
    net.init_depth_from_fusion()
    out = net(x)
    assert torch.equal(out[:, 0], out[:, 1])
    plain = StackNet(StackNetConfig(width=2, n_blocks=1)).eval()
    assert plain(x).shape == (3, 1, 16, 20)
    with pytest.raises(ValueError, match="no depth head"):
        plain.init_depth_from_fusion()


def test_a_detached_depth_head_does_not_train_the_branch() -> None:
    torch.manual_seed(0)
    net = StackNet(StackNetConfig(width=2, n_blocks=1, depth_head=True))
    x = torch.rand(2, 1, 16, 16)
    for detach, expect_grad in ((False, True), (True, False)):
        net.zero_grad(set_to_none=True)
        net.detach_depth = detach
        net(x)[:, 1].pow(2).sum().backward()
        g = next(net.branch.parameters()).grad
        assert (g is not None and bool(g.abs().sum() > 0)) == expect_grad
        assert next(net.depth_decoder.parameters()).grad is not None
