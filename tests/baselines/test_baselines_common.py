"""Shared helpers of mfif.baselines._common, checked against brute-force definitions."""

from __future__ import annotations

import pkgutil

import numpy as np
import pytest

import mfif.baselines as baselines
from mfif.baselines import _common as c
from mfif.errors import MfifError
from mfif.registry import list_methods


def test_majority_and_consistency():
    m = np.zeros((5, 5), bool)
    m[2, 2] = True  # isolated pixel → removed
    assert not c.majority_filter(m).any()
    m = np.ones((5, 5), bool)
    m[2, 2] = False  # isolated hole → filled
    assert c.majority_filter(m)[2, 2]
    ca = np.ones((6, 6))
    cb = np.full((6, 6), 2.0)
    ca[3, 3] = 10.0  # one large coefficient wins its 3x3 neighbourhood, then majority spreads it
    out = c.choose_max_consistency(ca, cb)
    assert out[3, 3] == 10.0 and out[0, 0] == 2.0


def test_area_open_both_polarities():
    m = np.zeros((20, 20), bool)
    m[2:4, 2:4] = True  # 4 px island
    m[10:20, :] = True
    m[15, 5] = False  # 1 px hole
    out = c.area_open(m, 5)
    assert not out[2:4, 2:4].any() and out[15, 5]


def test_quantize_and_round_half_away():
    np.testing.assert_array_equal(c.matlab_round(np.array([0.5, 1.5, -0.5, 2.4])), [1, 2, -1, 2])
    assert c.quantize_uint8(np.array([1.5 / 255]))[0] == pytest.approx(2 / 255)
    assert c.gray255(np.float32(np.array([[5.0]]) / 255))[0, 0] == 5.0


def test_argmax_and_sequential(rng):
    a, b, d = (rng.random((8, 8)).astype(np.float32) for _ in range(3))
    res = c.argmax_fuse([a, b, d], [np.ones((8, 8)), np.zeros((8, 8)), np.full((8, 8), 2.0)])
    np.testing.assert_array_equal(res.fused, d)
    assert (res.depth_map == 2).all()

    def pair(images, *, k):
        return c.result_from_map(images, np.full(images[0].shape, k, np.float32))

    out = c.fuse_sequential(pair, [a, b, d], k=1.0)
    np.testing.assert_array_equal(out.fused, a)


def test_check_images_errors(rng):
    a = rng.random((8, 8)).astype(np.float32)
    with pytest.raises(MfifError, match="x: accepts at most 2"):
        c.check_images([a, a, a], method="x", max_inputs=2)
    with pytest.raises(MfifError, match="image 2"):
        c.check_images([a, a[:4]], method="x")


def test_package_imports_every_module():
    names = {m.name for m in pkgutil.iter_modules(baselines.__path__) if not m.name.startswith("_")}
    assert {"gff", "quadtree", "dsift", "pyramid", "dwt", "focus_measures"} <= names
    assert names <= set(baselines.__all__)
    registered = {m.name for m in list_methods()}
    assert {"gff", "quadtree", "dsift", "lp", "dwt", "sf", "sml", "eol", "laplacian-argmax"} <= registered


def test_disk_footprint_exact_and_matlab_approximation():
    """Exact disk = skimage's; approximation 4 follows MATLAB strel('disk', r)'s radial decomposition.

    Golden shapes derived by hand from that construction (θ = π/8, k = 2r/(cot θ + 1/sin θ)):
    r = 3: k = 1.19 → lines of 3 along rows and columns only → 3 x 3, reach 1, plus lines of 3 →
    the 5 x 5 square (25); r = 4: k = 1.59 → all four lines of 3 → the 21-pixel octagon, reach 2,
    plus lines of 3 → 7 x 7 without 3 pixels per corner (37); r = 5: 69 pixels in 9 x 9.
    """
    from skimage.morphology import disk

    from mfif.baselines._common import disk_footprint

    for r in range(0, 8):
        assert np.array_equal(disk_footprint(r), disk(r).astype(bool))
    assert np.array_equal(disk_footprint(2, approximation=4), disk(2).astype(bool))  # r < 3: exact
    assert np.array_equal(disk_footprint(3, approximation=4), np.ones((5, 5), bool))
    d4 = disk_footprint(4, approximation=4)
    assert d4.shape == (7, 7) and d4.sum() == 37
    assert not d4[0, :2].any() and d4[0, 2:5].all() and not d4[1, 0] and d4[1, 1]
    assert np.array_equal(d4, d4[::-1]) and np.array_equal(d4, d4.T)
    d5 = disk_footprint(5, approximation=4)
    assert d5.shape == (9, 9) and d5.sum() == 69
    with pytest.raises(ValueError):
        disk_footprint(3, approximation=6)
