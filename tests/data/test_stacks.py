"""Deep focal sweeps with known truth (mfif.data.stacks.focal_stack) and their blur kernels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mfif.data.stacks import DEPTH_TYPES, defocus_blur, disk_kernel, focal_stack
from mfif.errors import MfifError


@pytest.mark.parametrize("depth_type", DEPTH_TYPES)
def test_seeded_and_consistent(depth_type):
    s = focal_stack(5, size=(48, 56), depth_type=depth_type, seed=3)
    again = focal_stack(5, size=(48, 56), depth_type=depth_type, seed=3)
    other = focal_stack(5, size=(48, 56), depth_type=depth_type, seed=4)
    assert len(s.frames) == 5 and s.truth.shape == (48, 56, 3) and s.depth.shape == (48, 56)
    for f, g in zip(s.frames, again.frames):
        np.testing.assert_array_equal(f, g)
    assert not np.array_equal(s.truth, other.truth)
    for f in s.frames:
        assert f.dtype == np.float32 and f.shape == s.truth.shape and 0 <= f.min() and f.max() <= 1
    assert s.depth.dtype == np.int32 and 0 <= s.depth.min() and s.depth.max() <= 4
    np.testing.assert_array_equal(s.depth, np.clip(np.rint(s.z), 0, 4))
    # edges are exactly the pixels with a 4-neighbour of another index
    d = s.depth
    changed = np.zeros(d.shape, bool)
    changed[1:] |= d[1:] != d[:-1]
    changed[:-1] |= d[1:] != d[:-1]
    changed[:, 1:] |= d[:, 1:] != d[:, :-1]
    changed[:, :-1] |= d[:, 1:] != d[:, :-1]
    np.testing.assert_array_equal(s.edges, changed)
    assert s.bright == (depth_type == "layers")


def test_layers_frame_k_is_the_truth_where_depth_is_k_away_from_edges():
    # imgaussfilt kernels are squares of half-width 2σ = 2·step·(n − 1) = 6 px (corner 8.5 px): beyond
    # that from every layer boundary, frame k equals the truth exactly where the true depth is k.
    s = focal_stack(4, size=(96, 96), depth_type="layers", blur_step=1.0, seed=5)
    far = ndimage.distance_transform_edt(~s.edges) > 8.5
    for k, f in enumerate(s.frames):
        sel = far & (s.depth == k)
        assert sel.sum() > 20  # 47 to several hundred pixels per frame with this seed
        np.testing.assert_array_equal(f[sel], s.truth[sel])
    # and a defocused frame differs there (the blur is real)
    k = int(s.depth[far][0])
    other = s.frames[(k + 2) % 4]
    sel = far & (s.depth == k)
    assert np.abs(other[sel] - s.truth[sel]).mean() > 0.01


def test_layers_spread_defocused_foreground_over_the_sharp_background():
    """Defocus spread effect: near a boundary, the frame focused on the far layer is not the truth."""
    s = focal_stack(4, size=(96, 96), depth_type="layers", blur_step=1.5, seed=5)
    zs = sorted(np.unique(s.depth))
    far_z = int(np.bincount(s.depth.ravel()).argmax()) if s.params["bright"] else zs[-1]
    ring = (ndimage.distance_transform_edt(~s.edges) <= 2) & (s.depth == far_z)
    assert ring.any()
    assert np.abs(s.frames[far_z][ring] - s.truth[ring]).mean() > 0.01


@pytest.mark.parametrize("depth_type", ["tilted", "smooth"])
@pytest.mark.parametrize("kernel", ["gaussian", "disk"])
def test_continuous_depth_sharpest_frame_is_the_true_index(depth_type, kernel):
    s = focal_stack(6, size=(64, 64), depth_type=depth_type, kernel=kernel, blur_step=1.5, seed=1)
    assert s.z.min() == pytest.approx(0, abs=1e-5) and s.z.max() == pytest.approx(5, abs=1e-4)
    err = np.stack([np.abs(f - s.truth).mean(axis=2) for f in s.frames])  # 6 x H x W
    best = np.argmin(ndimage.uniform_filter(err, (1, 5, 5)), axis=0)
    assert np.mean(np.abs(best - s.depth) <= 1) > 0.9


def test_noise_and_breathing_change_frames_not_truth():
    base = focal_stack(5, size=(64, 64), depth_type="smooth", seed=2)
    noisy = focal_stack(5, size=(64, 64), depth_type="smooth", noise=0.01, seed=2)
    breath = focal_stack(5, size=(64, 64), depth_type="smooth", breathing=0.04, seed=2)
    np.testing.assert_array_equal(base.truth, noisy.truth)
    np.testing.assert_array_equal(base.truth, breath.truth)
    d = noisy.frames[2] - base.frames[2]
    assert 0.005 < d.std() < 0.02
    np.testing.assert_allclose(breath.frames[0], base.frames[0], atol=1e-5)  # frame 0 keeps its scale
    # the last frame is magnified 4 %: the centre stays, the border moves
    diff = np.abs(breath.frames[4] - base.frames[4]).mean(axis=2)
    assert diff[28:36, 28:36].mean() < diff[:, :6].mean()


def test_disk_kernel_and_blur():
    assert disk_kernel(0.2).shape == (1, 1)
    k = disk_kernel(4.0)
    assert k.shape == (9, 9) and k.sum() == pytest.approx(1, abs=1e-6)
    x = np.arange(-4, 5)
    var = float((k.sum(axis=0) * x**2).sum())
    assert var == pytest.approx(4.0**2 / 4, rel=0.1)  # a disk of radius R has variance R²/4 per axis
    img = np.zeros((31, 31), np.float32)
    img[15, 15] = 1
    out = defocus_blur(img, 2.0, kernel="disk")  # radius 2σ = 4
    assert out.sum() == pytest.approx(1, abs=1e-5) and out[15, 15 + 5] == 0 and out[15, 15 + 3] > 0
    with pytest.raises(MfifError, match="kernel"):
        defocus_blur(img, 1.0, kernel="box")


def test_bad_arguments():
    with pytest.raises(MfifError, match="at least two"):
        focal_stack(1)
    with pytest.raises(MfifError, match="depth_type"):
        focal_stack(3, depth_type="steps")
