"""Quadtree (Bai et al. 2015): focus measure, split, label clean-up."""

from __future__ import annotations

import numpy as np

from mfif.baselines.quadtree import _wml_kernel, quadtree_fuse, quadtree_labels, weighted_modified_laplacian


def test_wml_kernel():
    k = _wml_kernel(17)
    assert k.shape == (17, 17) and k[8, 8] == 1.0 and k[8, 9] == 0.5  # 1/(d+1), not normalised


def test_threshold_zeroes_weak_edges():
    g = np.zeros((32, 32))
    g[:, 16:] = 2.0  # step of 2 grey levels: ML = 2 < T = 5
    assert not weighted_modified_laplacian(g).any()
    assert weighted_modified_laplacian(g, threshold=1.0).any()


def test_labels_follow_block_sums():
    wml = np.zeros((2, 40, 40))  # padded to 64, centred: column 20 is on a block boundary
    wml[0, :, :20] = 1.0
    wml[1, :, 20:] = 0.5
    lab = quadtree_labels(wml)
    assert (lab[:, :20] == 0).all() and (lab[:, 20:] == 1).all()
    # a perfectly balanced root block (MDFM = 0) is not split and stays undefined (paper's 0 < MDFM)
    wml[0], wml[1] = 0.0, 0.0
    wml[0, :, :20] = 1.0
    wml[1, :, 20:] = 1.0
    assert (quadtree_labels(wml) == -1).all()


def test_identical_sources(textured_pair):
    a = textured_pair[0]
    res = quadtree_fuse([a, a])
    np.testing.assert_array_equal(res.fused, a)
