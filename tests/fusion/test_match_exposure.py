"""``match_exposure``: both sources scaled to their common mean before the network (mfif.fusion.inference)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

import mfif
from mfif.fusion.inference import exposure_matched


def _pair(h: int = 48, w: int = 56, seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Textured scene in [0.1, 0.6]; A sharp on the left, B on the right, B darker by 20 %."""
    rng = np.random.default_rng(seed)
    truth = (0.1 + 0.5 * rng.random((h, w))).astype(np.float32)
    blur = gaussian_filter(truth, 2.0).astype(np.float32)
    left = np.zeros((h, w), np.float32)
    left[:, : w // 2] = 1
    a = truth * left + blur * (1 - left)
    b = 0.8 * (blur * left + truth * (1 - left))
    return a.astype(np.float32), b.astype(np.float32)


def test_the_matched_sources_share_one_mean_and_swap_with_the_sources() -> None:
    a, b = _pair()
    a2, b2 = exposure_matched(a, b)
    assert abs(a2.mean() - b2.mean()) < 1e-4
    assert abs(a2.mean() - 0.5 * (a.mean() + b.mean())) < 1e-4
    b3, a3 = exposure_matched(b, a)
    np.testing.assert_array_equal(a2, a3)
    np.testing.assert_array_equal(b2, b3)
    assert a2.dtype == np.float32 and 0 <= a2.min() and a2.max() <= 1


def test_equal_means_and_black_sources_are_left_as_they_are() -> None:
    a, _ = _pair()
    c = a[:, ::-1].copy()  # the same mean
    a2, c2 = exposure_matched(a, c)
    np.testing.assert_allclose(a2, a, atol=1e-6)
    np.testing.assert_allclose(c2, c, atol=1e-6)
    z = np.zeros_like(a)
    a3, z3 = exposure_matched(a, z)
    assert a3 is a and z3 is z


def test_the_option_feeds_the_network_the_matched_sources_and_composes_the_given_ones() -> None:
    a, b = _pair()
    r = mfif.fuse([a, b], method="mfif-gan-lite", order="given", device="cpu", match_exposure=True)
    ref = mfif.fuse(list(exposure_matched(a, b)), method="mfif-gan-lite", order="given", device="cpu")
    np.testing.assert_array_equal(r.focus_map, ref.focus_map)
    np.testing.assert_array_equal(r.decision_map, ref.decision_map)
    m = r.decision_map
    np.testing.assert_allclose(r.fused, a * m + b * (1 - m), atol=1e-6)


def test_off_by_default() -> None:
    a, b = _pair()
    r0 = mfif.fuse([a, b], method="mfif-gan-lite", device="cpu")
    r1 = mfif.fuse([a, b], method="mfif-gan-lite", device="cpu", match_exposure=False)
    r2 = mfif.fuse([a, b], method="mfif-gan-lite", device="cpu", match_exposure=True)
    np.testing.assert_array_equal(r0.focus_map, r1.focus_map)
    assert not np.array_equal(r0.focus_map, r2.focus_map)  # the 20 % darker B reaches the network matched
