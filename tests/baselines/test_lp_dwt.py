"""Laplacian pyramid and DWT fusion: exact reconstruction and identity."""

from __future__ import annotations

import numpy as np
import pytest

from mfif.baselines.dwt import dwt_fuse
from mfif.baselines.pyramid import lp_decompose, lp_fuse, lp_reconstruct


@pytest.mark.parametrize("shape", [(37, 51), (64, 64)])
def test_lp_perfect_reconstruction(rng, shape):
    x = rng.random(shape)
    bands, top, sizes = lp_decompose(x, 4)
    assert len(bands) == 4 and top.shape == (-(-shape[0] // 16), -(-shape[1] // 16))
    np.testing.assert_allclose(lp_reconstruct(bands, top, sizes), x, atol=1e-12)


@pytest.mark.parametrize("fn", [lp_fuse, dwt_fuse])
def test_identical_sources(fn, rng):
    a = rng.random((40, 56)).astype(np.float32)
    np.testing.assert_allclose(fn([a, a]).fused, a, atol=1e-5)


def test_dwt_other_wavelet(textured_pair):
    a, b, truth, _ = textured_pair
    f = dwt_fuse([a, b], wavelet="db2", level=3, mode="symmetric").fused
    assert f.shape == a.shape
    assert np.abs(f - truth)[:, :24].mean() < 0.5 * np.abs((a + b) / 2 - truth)[:, :24].mean()
