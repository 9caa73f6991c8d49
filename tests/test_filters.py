"""mfif.filters: box sums and guided filters against brute-force definitions, the one luma conversion."""

from __future__ import annotations

import numpy as np

from mfif import filters


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
    np.testing.assert_allclose(filters.guided_filter(i, p, 3, 0.01), _gf_brute(i, p, 3, 0.01), atol=1e-10)


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
            np.testing.assert_allclose(filters.guided_filter_color(g, p, r, eps), _gf_color_brute(g, p, r, eps), atol=1e-8)
            gg = g[..., 1]
            np.testing.assert_allclose(filters.guided_filter(gg, p, r, eps), _gf_brute(gg, p, r, eps), atol=1e-8)


def test_guided_filter_color_reduces_to_gray(rng):
    # with a replicated gray guide, Σ = v·11ᵀ + eps·I, so the colour filter equals the gray one with eps/3
    i = rng.random((20, 24))
    p = rng.random((20, 24))
    q3 = filters.guided_filter_color(np.repeat(i[..., None], 3, axis=2), p, 4, 0.03)
    np.testing.assert_allclose(q3, filters.guided_filter(i, p, 4, 0.01), atol=1e-10)


def test_box_sum_zero_outside(rng):
    x = rng.random((9, 11))
    for r in (0, 2, 12):  # 12: windows larger than the image
        ref = np.zeros_like(x)
        for y in range(9):
            for xx in range(11):
                ref[y, xx] = x[max(y - r, 0) : y + r + 1, max(xx - r, 0) : xx + r + 1].sum()
        np.testing.assert_allclose(filters.box_sum(x, r), ref, atol=1e-12)


def test_box_mean_and_local_sum(rng):
    x = rng.random((7, 9))
    np.testing.assert_allclose(filters.box_mean(x, 1)[3, 4], x[2:5, 3:6].mean(), atol=1e-12)
    np.testing.assert_allclose(filters.box_mean(x, 1)[0, 0], x[:2, :2].mean(), atol=1e-12)  # clipped window
    np.testing.assert_allclose(filters.local_sum(x, 3)[3, 4], x[2:5, 3:6].sum(), atol=1e-12)
    np.testing.assert_allclose(filters.local_sum(x, 3, mode="constant")[0, 0], x[:2, :2].sum(), atol=1e-12)


def test_luma_weights_and_dtype(rng):
    rgb = rng.random((4, 5, 3)).astype(np.float32)
    y = filters.luma(rgb)
    assert y.dtype == np.float32 and y.shape == (4, 5)
    # MATLAB rgb2gray weights (sum 1 up to 1e-15): white stays white, a pure channel gives its weight
    np.testing.assert_allclose(filters.luma(np.ones((1, 1, 3)))[0, 0], 1.0, atol=1e-14)
    np.testing.assert_allclose(filters.luma(np.eye(3)[None])[0], filters.LUMA_WEIGHTS, atol=0)
    y64 = filters.luma(rgb.astype(np.float64))
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64, y, atol=1e-6)
    g = rgb[..., 0]
    assert filters.luma(g) is g or np.shares_memory(filters.luma(g), g)
