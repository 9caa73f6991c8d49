"""Focus measures and the simple fusers (laplacian-argmax, sf, sml, eol)."""

from __future__ import annotations

import numpy as np

from mfif.baselines.focus_measures import (
    energy_of_laplacian_map,
    laplacian_argmax,
    modified_laplacian,
    sf_fuse,
    spatial_frequency,
)


def test_modified_laplacian_point():
    g = np.zeros((7, 7))
    g[3, 3] = 10
    ml = modified_laplacian(g)
    assert ml[3, 3] == 40 and ml[3, 4] == 10 and ml[0, 0] == 0
    assert modified_laplacian(g, threshold=15)[3, 4] == 0


def test_eol_kernel_sums_to_zero():
    assert not energy_of_laplacian_map(np.full((6, 6), 3.0)).any()


def test_spatial_frequency_definition():
    blk = np.array([[0.0, 1.0], [0.0, 1.0]])  # RF² = (1+1)/4, CF² = 0
    assert abs(spatial_frequency(blk) - np.sqrt(0.5)) < 1e-12


def test_laplacian_argmax_median_removes_specks(textured_pair):
    a, b, _, mask = textured_pair
    raw = laplacian_argmax([a, b], median_size=1).decision_map
    clean = laplacian_argmax([a, b]).decision_map
    err = lambda d: np.mean(d != mask)  # noqa: E731
    assert err(clean) <= err(raw)


def test_sf_threshold_averages_equal_blocks(textured_pair):
    a = textured_pair[0]
    res = sf_fuse([a, a], threshold=1.0)
    np.testing.assert_allclose(res.fused, a, atol=1e-6)
    assert np.allclose(res.focus_map, 0.5)
