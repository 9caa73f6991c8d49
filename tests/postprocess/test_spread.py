"""Defocus-spread correction: exact under the α-matte model with the true mask and σ.

The expected behaviour is derived in mfif/postprocess/spread.py: outside the object, A = blur(I) and
B = blur(I)·m + I·(1−m), so (B − m·A)/(1 − m) = I wherever m < max_mix.
"""

import numpy as np

from mfif.data.synthesis import alpha_matte_pair
from mfif.fusion.pair import compose
from mfif.postprocess.spread import correct_spread, estimate_spread_sigma


def _pair(rng, sigma=1.5):
    from scipy.ndimage import gaussian_filter

    truth = gaussian_filter(rng.random((80, 80, 3)), (1, 1, 0)).astype(np.float32)
    yy, xx = np.mgrid[:80, :80]
    mask = (((yy - 40) ** 2 + (xx - 38) ** 2) < 22**2).astype(np.float32)
    a, b = alpha_matte_pair(truth, mask, sigma=sigma)
    return a, b, truth, mask


def test_sigma_is_recovered(rng):
    a, b, _, mask = _pair(rng, sigma=1.5)
    assert estimate_spread_sigma(a, b, mask) == 1.5


def test_unmixing_removes_the_halo_with_the_true_mask(rng):
    a, b, truth, mask = _pair(rng, sigma=1.5)
    hard = compose(a, b, mask)
    fixed, s = correct_spread(a, b, mask, hard)
    outside = mask < 0.5
    err_hard = np.abs(hard - truth)[outside].max()
    err_fixed = np.abs(fixed - truth)[outside].max()
    assert err_hard > 0.01  # the halo is there
    assert err_fixed < 1e-4  # and gone (float rounding only)
    assert np.array_equal(fixed[~outside], hard[~outside])  # A-region untouched


def test_no_object_no_change(rng):
    a, b, _, _ = _pair(rng)
    empty = np.zeros(a.shape[:2], np.float32)
    hard = compose(a, b, empty)
    fixed, s = correct_spread(a, b, empty, hard)
    assert np.isnan(s) and np.array_equal(fixed, hard)
