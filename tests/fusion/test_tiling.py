"""Tiled inference (mfif.fusion.tiling) agrees with whole-image inference.

A tiny untrained generator (width 8, 3 blocks, eval mode, seed 0) is compared in logit space, where
differences are not squashed by the sigmoid. Reference measurement (one-off, 384² Lytro crop, tile
128): max |tiled − untiled| / std(untiled logits) = 5.5 with overlap 0, 0.11 with 16, ≤ 1e-4 with
≥ 32 (the remaining difference is the squeeze-and-excitation global pool).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfif.errors import MfifError
from mfif.fusion.pair import predict_focus_map
from mfif.fusion.tiling import default_overlap, predict_focus_map_tiled, receptive_radius, tile_grid
from mfif.models.generator import Generator


class _Logits(Generator):
    def forward(self, a, b, *, logits=True):  # noqa: ANN001, ANN201
        return super().forward(a, b, logits=True)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: threads only add contention on the shared CI box
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return _Logits(width=8, n_blocks=3).eval()


@pytest.fixture(scope="module")
def pair():
    from mfif.data.stacks import synthetic_stack

    srcs, _, _ = synthetic_stack(2, size=(112, 100), seed=3, blur_step=2.0)
    return srcs


def test_grid_partitions_the_image():
    h, w = 150, 134
    cover = np.zeros((h, w), int)
    for wy, wx, cy, cx in tile_grid(h, w, 48, 20):
        assert wy.start % 4 == 0 and wx.start % 4 == 0  # stride-4 phase of the generator kept
        cover[wy.start + cy.start : wy.start + cy.stop, wx.start + cx.start : wx.start + cx.stop] += 1
    assert (cover == 1).all()


def test_default_overlap_covers_receptive_field(nets):
    assert receptive_radius(nets) == 39
    assert default_overlap(nets) == 40
    assert default_overlap(Generator(width=4, n_blocks=9)) == 88
    assert default_overlap(torch.nn.Identity()) == 88


def test_tiled_matches_untiled(nets, pair):
    a, b = pair
    full = predict_focus_map(nets, a, b, device="cpu")
    s = float(full.std())
    assert s > 0
    tiled = predict_focus_map_tiled(nets, a, b, tile=48, device="cpu")  # default overlap
    assert tiled.shape == full.shape and tiled.dtype == np.float32
    assert np.abs(tiled - full).max() / s < 1e-2
    # the comparison is sensitive: without context the seams show
    seams = predict_focus_map_tiled(nets, a, b, tile=48, overlap=0, device="cpu")
    assert np.abs(seams - full).max() / s > 0.5


def test_pair_pipeline_uses_tiles(nets, pair):
    a, b = pair
    g = Generator(width=8, n_blocks=3).eval()
    full = predict_focus_map(g, a[..., 0], b[..., 0], device="cpu")
    tiled = predict_focus_map(g, a[..., 0], b[..., 0], device="cpu", tile=64, tile_overlap=40)
    assert tiled.shape == a.shape[:2]
    assert np.abs(full - tiled).max() < 1e-4


def test_bad_tile_options(nets, pair):
    a, b = pair
    with pytest.raises(MfifError, match="--tile"):
        predict_focus_map_tiled(nets, a, b, tile=8, device="cpu")
    with pytest.raises(MfifError, match="--tile-overlap"):
        predict_focus_map_tiled(nets, a, b, tile=32, overlap=-1, device="cpu")


def test_network_only_sees_windows(pair):
    """Memory bound: no forward pass gets more than (tile + 2·overlap)² pixels, whatever the image size."""
    seen: list[tuple[int, int]] = []

    class Spy(Generator):
        def forward(self, a, b, *, logits=False):  # noqa: ANN001, ANN201
            seen.append(tuple(a.shape[2:]))
            return super().forward(a, b, logits=logits)

    a, b = pair
    g = Spy(width=4, n_blocks=1).eval()
    out = predict_focus_map_tiled(g, a, b, tile=32, overlap=16, device="cpu")
    assert out.shape == a.shape[:2] and np.isfinite(out).all()
    assert len(seen) == 4 * 4  # ceil(112/32) × ceil(100/32) windows
    assert max(h for h, _ in seen) <= 32 + 2 * 16 and max(w for _, w in seen) <= 32 + 2 * 16


def _measured_radius(g: Generator) -> int:
    """Largest gradient support radius of one output pixel over the four stride-4 phases."""
    r = 0
    for c in (48, 49, 50, 51):
        a = torch.rand(1, 3, 128, 128, requires_grad=True)
        g(a, torch.rand(1, 3, 128, 128), logits=True)[0, 0, c, c].backward()
        ys, xs = np.nonzero(a.grad.abs().sum(dim=(0, 1)).numpy())
        r = max(r, c - ys.min(), ys.max() - c, c - xs.min(), xs.max() - c)
    return int(r)


@pytest.mark.parametrize("n_blocks,refine_layers", [(1, 0), (3, 0), (1, 3)])
def test_receptive_radius_is_the_measured_support(n_blocks, refine_layers):
    """receptive_radius (15 + 8·n_blocks + refine_layers) = the measured support (SE off, eval)."""
    torch.manual_seed(0)
    g = Generator(width=4, n_blocks=n_blocks, se=False, refine_width=4 if refine_layers else 0,
                  refine_layers=refine_layers or 3).eval()
    if g.refine is not None:  # a non-zero head, or its zero last conv would hide the extra support
        for p in g.refine.parameters():
            torch.nn.init.normal_(p, std=0.5)
    assert _measured_radius(g) == receptive_radius(g) == 15 + 8 * n_blocks + refine_layers
