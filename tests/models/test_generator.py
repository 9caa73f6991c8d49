"""Generator and critic architecture facts.

Golden parameter counts come from ../shared/docs/mfif-gan-reference.md §1.1-1.2 (derived there from the
authors' model.py): G = 13,700,928, D = 3,815,105.
"""

import pytest
import torch

from mfif.models import Critic, Generator, GeneratorConfig
from mfif.models.generator import count_parameters


def test_paper_parameter_counts():
    assert count_parameters(Generator()) == 13_700_928
    assert count_parameters(Critic()) == 3_815_105


def test_constructor_arguments_are_used():
    base = count_parameters(Generator(width=8, n_blocks=2))
    assert count_parameters(Generator(width=8, n_blocks=3)) > base
    assert count_parameters(Generator(width=16, n_blocks=2)) > base
    assert count_parameters(Generator(width=8, n_blocks=2, se=False)) < base
    g = Generator(width=8, n_blocks=1, input_mode="gray").eval()
    out = g(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))
    assert out.shape == (1, 1, 16, 16)


def test_output_shape_and_range():
    torch.manual_seed(0)
    g = Generator(width=4, n_blocks=1).eval()
    with torch.no_grad():
        m = g(torch.rand(2, 3, 20, 28), torch.rand(2, 3, 20, 28))
    assert m.shape == (2, 1, 20, 28)
    assert float(m.min()) >= 0 and float(m.max()) <= 1


def test_batched_branches_equal_six_calls_in_eval():
    torch.manual_seed(0)
    g = Generator(width=4, n_blocks=1).eval()
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        y1 = g(a, b)
        g.config.batched_branches = False
        y2 = g(a, b)
    torch.testing.assert_close(y1, y2)


def test_weight_sharing_symmetry():
    """Channels are averaged, so permuting the RGB channels of both sources does not change the map."""
    torch.manual_seed(0)
    g = Generator(width=4, n_blocks=1).eval()
    a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    perm = [2, 0, 1]
    with torch.no_grad():
        torch.testing.assert_close(g(a, b), g(a[:, perm], b[:, perm]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("paper", [True, False])
def test_critic_patch_output(paper):
    d = Critic(width=8, paper=paper).eval()
    with torch.no_grad():
        out = d(torch.rand(1, 3, 256, 256), torch.rand(1, 3, 256, 256), torch.rand(1, 1, 256, 256))
    assert out.shape == (1, 1, 6, 6)
    has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    assert has_bn == paper
    if paper:
        assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_config_round_trip():
    cfg = GeneratorConfig(width=8, n_blocks=2, se=False, input_mode="gray")
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg


# ----------------------------------------------------------------------------- refinement head


def test_refine_head_parameter_count_and_zero_start():
    """Head params (hand count): 7→16 (7·16·9 + 16) + 16→16 (2304 + 16) + 16→1 (144 + 1) = 3,489."""
    torch.manual_seed(0)
    plain = Generator(width=4, n_blocks=1).eval()
    head = Generator(width=4, n_blocks=1, refine_width=16, refine_layers=3).eval()
    assert count_parameters(head) - count_parameters(plain) == 3_489
    # zero-initialised last conv: with the paper part's weights copied, the maps are identical
    missing, unexpected = head.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("refine.") for k in missing)
    a, b = torch.rand(1, 3, 24, 20), torch.rand(1, 3, 24, 20)
    with torch.no_grad():
        torch.testing.assert_close(head(a, b), plain(a, b), rtol=0, atol=0)


def test_refine_head_learns_full_resolution_detail():
    """One gradient step moves the head's last conv, and the corrected logits differ from the decoder's."""
    torch.manual_seed(0)
    g = Generator(width=4, n_blocks=1, refine_width=8, refine_layers=2)
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    loss = g(a, b, logits=True).square().mean()
    loss.backward()
    last = g.refine.net[-1]
    assert last.weight.grad is not None and float(last.weight.grad.abs().sum()) > 0
    with torch.no_grad():
        last.weight.add_(0.1)
    g.eval()
    with torch.no_grad():
        z_dec = g.decoder(g.encode(a, b))
        assert float((g(a, b, logits=True) - z_dec).abs().max()) > 1e-3
    gray = Generator(width=4, n_blocks=1, input_mode="gray", refine_width=8, refine_layers=2)
    assert gray.refine.net[0].in_channels == 3  # luma A, luma B, logits


def test_context_pathway_parameter_count_zero_start_and_odd_sizes():
    """Pathway params (hand count, width 4 → 8w = 32 features, context width 8, 1 block, SE r = 16):
    32→8 3×3 conv 2,304 + BN 16; 8→8 3×3 conv 576 + BN 16; block 2·(576 + 16) + SE (8·1 + 1·8) = 1,200;
    1×1 out conv 8·32 + 32 = 288 → 4,400."""
    torch.manual_seed(0)
    plain = Generator(width=4, n_blocks=1).eval()
    ctx = Generator(width=4, n_blocks=1, context_width=8, context_blocks=1).eval()
    assert count_parameters(ctx) - count_parameters(plain) == 4_400
    missing, unexpected = ctx.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("context.") for k in missing)
    # H/4 = 9 × 5 is not a multiple of 4: the upsampled context still matches the feature grid
    a, b = torch.rand(1, 3, 36, 20), torch.rand(1, 3, 36, 20)
    with torch.no_grad():
        torch.testing.assert_close(ctx(a, b), plain(a, b), rtol=0, atol=0)
        ctx.context.out.weight.add_(0.5)
        assert float((ctx(a, b) - plain(a, b)).abs().max()) > 1e-6


def test_context_pathway_reaches_further_than_the_branch():
    """A change outside the branch's receptive field (23 px for one block) moves the logits only with the
    pathway (reach 28 + 32·2 px more)."""
    from mfif.fusion.tiling import receptive_radius

    torch.manual_seed(0)
    plain = Generator(width=4, n_blocks=1, se=False).eval()
    ctx = Generator(width=4, n_blocks=1, se=False, context_width=8, context_blocks=2).eval()
    ctx.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        ctx.context.out.weight.normal_(0, 0.5)
    a, b = torch.rand(1, 3, 128, 128), torch.rand(1, 3, 128, 128)
    a2 = a.clone()
    a2[..., 48:, 48:] = 0.0  # 40 px from pixel (8, 8)
    with torch.no_grad():
        assert float((plain(a, b, logits=True) - plain(a2, b, logits=True))[..., :9, :9].abs().max()) == 0.0
        assert float((ctx(a, b, logits=True) - ctx(a2, b, logits=True))[..., :9, :9].abs().max()) > 0.0
    assert receptive_radius(plain) == 23 and receptive_radius(ctx) == 23 + 28 + 64
