"""Shared helpers of mfif.baselines._common, checked against brute-force definitions."""

from __future__ import annotations

import pkgutil

import numpy as np
import pytest

import mfif.baselines as baselines
from mfif.baselines import _common as c
from mfif.errors import MfifError
from mfif.registry import list_methods


def _gf_brute(i, p, r, eps):
    """He et al.'s guided filter written with explicit clipped windows (definition, O(N r²))."""
    h, w = i.shape
    a = np.zeros((h, w))
    b = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            wi = i[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1]
            wp = p[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1]
            mi, mp = wi.mean(), wp.mean()
            a[y, x] = ((wi * wp).mean() - mi * mp) / (wi.var() + eps)
            b[y, x] = mp - a[y, x] * mi
    q = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            sl = (slice(max(y - r, 0), y + r + 1), slice(max(x - r, 0), x + r + 1))
            q[y, x] = a[sl].mean() * i[y, x] + b[sl].mean()
    return q


def test_guided_filter_matches_definition(rng):
    i = rng.random((13, 17))
    p = (rng.random((13, 17)) > 0.5).astype(float)
    np.testing.assert_allclose(c.guided_filter(i, p, 3, 0.01), _gf_brute(i, p, 3, 0.01), atol=1e-10)


def _gf_color_brute(g, p, r, eps):
    """Colour-guide guided filter with explicit clipped windows and numpy.linalg.solve per window."""
    h, w = p.shape
    a = np.zeros((h, w, 3))
    b = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            sl = (slice(max(y - r, 0), y + r + 1), slice(max(x - r, 0), x + r + 1))
            wg = g[sl].reshape(-1, 3)
            wp = p[sl].reshape(-1)
            mg, mp = wg.mean(axis=0), wp.mean()
            sigma = (wg - mg).T @ (wg - mg) / len(wp) + eps * np.eye(3)
            a[y, x] = np.linalg.solve(sigma, (wg * wp[:, None]).mean(axis=0) - mg * mp)
            b[y, x] = mp - a[y, x] @ mg
    q = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            sl = (slice(max(y - r, 0), y + r + 1), slice(max(x - r, 0), x + r + 1))
            q[y, x] = a[sl].reshape(-1, 3).mean(axis=0) @ g[y, x] + b[sl].mean()
    return q


def test_guided_filter_color_matches_definition(rng):
    # random guide, and a nearly flat one (two levels + 0.02 noise: window variances ~1e-5, where the
    # closed-form 3x3 inverse must still agree with a per-window solve) with a soft step as input
    flat = np.where(np.arange(21)[None, :, None] < 9, 0.8, 0.2) + 0.02 * rng.random((15, 21, 3))
    step = np.broadcast_to(1.0 / (1.0 + np.exp((np.arange(21) - 9.5) / 0.6)), (15, 21))
    for g, p in ((rng.random((13, 17, 3)), rng.random((13, 17))), (flat, step)):
        for r, eps in ((1, 1e-5), (2, 1e-3)):
            np.testing.assert_allclose(c.guided_filter_color(g, p, r, eps), _gf_color_brute(g, p, r, eps), atol=1e-8)
            gg = g[..., 1]
            np.testing.assert_allclose(c.guided_filter(gg, p, r, eps), _gf_brute(gg, p, r, eps), atol=1e-8)


def test_guided_filter_color_reduces_to_gray(rng):
    # with a replicated gray guide, Σ = v·11ᵀ + eps·I, so the colour filter equals the gray one with eps/3
    i = rng.random((20, 24))
    p = rng.random((20, 24))
    q3 = c.guided_filter_color(np.repeat(i[..., None], 3, axis=2), p, 4, 0.03)
    np.testing.assert_allclose(q3, c.guided_filter(i, p, 4, 0.01), atol=1e-10)


def test_box_sum_zero_outside(rng):
    x = rng.random((9, 11))
    for r in (0, 2, 12):  # 12: windows larger than the image
        ref = np.zeros_like(x)
        for y in range(9):
            for xx in range(11):
                ref[y, xx] = x[max(y - r, 0) : y + r + 1, max(xx - r, 0) : xx + r + 1].sum()
        np.testing.assert_allclose(c.box_sum(x, r), ref, atol=1e-12)


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
