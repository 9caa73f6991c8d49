"""Fast paths of mfif.metrics checked against direct, slow transcriptions of the spec."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mfif.metrics._core import _flat7, _sobel, contrast_maps


def _contrast_direct(x: np.ndarray) -> np.ndarray:
    """metricChenBlum §9.1-9.2 transcribed literally: freqspace grid, fftshift, direct 31x31 filter2."""
    m, n = x.shape
    fu = (np.arange(n) - n // 2) * (2.0 / n)
    fv = (np.arange(m) - m // 2) * (2.0 / m)
    u, v = np.meshgrid(fu * (n / 30.0), fv * (m / 30.0))
    r = np.sqrt(u**2 + v**2)
    s = np.exp(-((r / 15.3870) ** 2)) - 0.7622 * np.exp(-((r / 1.3456) ** 2))
    xc = np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(x)) * s))
    k = np.arange(-15, 16)
    g = lambda sg: np.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / (2 * sg**2)) / (2 * np.pi * sg**2)  # noqa: E731
    c2 = ndimage.correlate(xc.real, g(2.0), mode="constant")
    c4 = ndimage.correlate(xc.real, g(4.0), mode="constant")
    c = np.abs(c2 / c4 - 1)
    return c**3 / (c**2 + 1e-4)


@pytest.mark.parametrize("shape", [(23, 17), (40, 33), (12, 12)])
def test_contrast_maps_match_direct(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    xs = [rng.integers(0, 256, size=shape).astype(np.int64) for _ in range(3)]
    fast = contrast_maps(tuple(xs))
    for x, cp in zip(xs, fast):
        np.testing.assert_allclose(cp, _contrast_direct(x.astype(np.float64)), rtol=1e-9, atol=1e-12)


def test_sobel_matches_filter2() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, size=(9, 13)).astype(np.float64)
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float64)
    gx, gy = _sobel(x)
    np.testing.assert_array_equal(gx, ndimage.correlate(x, sx, mode="constant"))
    np.testing.assert_array_equal(gy, ndimage.correlate(x, sx.T, mode="constant"))


def test_flat7_matches_max_min() -> None:
    rng = np.random.default_rng(11)
    for _ in range(10):
        z = rng.integers(0, 3, size=(30, 27)).astype(np.float64)
        z[4:16, 2:20] = 7.0
        z[20:, 18:] = 1.0
        ref = (ndimage.maximum_filter(z, 7) == ndimage.minimum_filter(z, 7))[3:-3, 3:-3]
        assert ref.any()
        np.testing.assert_array_equal(_flat7(z), ref)
