"""GFF (Li, Kang, Hu 2013): weights, colour guide, identity."""

from __future__ import annotations

import numpy as np

from mfif.baselines.gff import _gaussian_kernel, gff_fuse, saliency


def test_gaussian_kernel_like_fspecial():
    k = _gaussian_kernel(11, 5.0)
    assert k.shape == (11, 11) and abs(k.sum() - 1) < 1e-12 and k[5, 5] == k.max()


def test_saliency_prefers_sharp(textured_pair):
    a, b, _, _ = textured_pair
    sa, sb = saliency(a.mean(axis=2)), saliency(b.mean(axis=2))
    assert (sa[:, 4:24] > sb[:, 4:24]).mean() > 0.95 and (sb[:, 40:60] > sa[:, 40:60]).mean() > 0.95


def test_identical_sources_give_the_source(textured_pair):
    a = textured_pair[0]
    np.testing.assert_allclose(gff_fuse([a, a]).fused, a, atol=1e-5)


def test_weights_normalised_and_maps(textured_pair):
    a, b, _, mask = textured_pair
    res = gff_fuse([a, b])
    wd = res.extras["detail_weights"]
    np.testing.assert_allclose(wd.sum(axis=0), 1.0, atol=1e-5)
    assert res.focus_map.shape == mask.shape and res.decision_map is not None


def test_colour_guide_option(textured_pair):
    a, b, truth, _ = textured_pair
    f1 = gff_fuse([a, b], color_guide=True).fused
    f0 = gff_fuse([a, b]).fused
    assert not np.array_equal(f0, f1)
    assert np.abs(f1 - truth)[:, :24].mean() < np.abs((a + b) / 2 - truth)[:, :24].mean()
