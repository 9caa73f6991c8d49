"""DSIFT (Liu, Liu, Wang 2015): descriptor, spatial frequency, initial maps."""

from __future__ import annotations

import numpy as np

from mfif.baselines.dsift import _sf7, dense_sift, dsift_fuse, initial_maps


def test_descriptor_shape_and_activity(textured_pair):
    a, b, _, _ = textured_pair
    da, db = dense_sift(a.mean(axis=2) * 255), dense_sift(b.mean(axis=2) * 255)
    assert da.shape == (64, 64, 128) and da.dtype == np.float32 and (da >= 0).all()
    act_a, act_b = da.sum(-1), db.sum(-1)
    assert (act_a[:, 8:20] > act_b[:, 8:20]).mean() > 0.95


def test_sf7_definition(rng):
    g = rng.random((12, 12)) * 255
    p = g[2:9, 3:10]  # 7x7 patch centred at (5, 6)
    ref = np.sqrt((np.sum(np.diff(p, axis=0) ** 2) + np.sum(np.diff(p, axis=1) ** 2)) / 49)
    assert abs(_sf7(g)[5, 6] - ref) < 1e-9


def test_initial_maps_vote():
    act_a = np.zeros((30, 30))
    act_a[:, :15] = 1
    act_b = 1 - act_a
    ma, mb = initial_maps(act_a, act_b)
    assert ma[:, :8].all() and mb[:, 23:].all() and not (ma & mb).any()


def test_matching_off_runs(textured_pair):
    a, b, truth, _ = textured_pair
    f = dsift_fuse([a, b], matching=False, area=200).fused
    assert np.abs(f - truth)[:, :24].mean() < 0.3 * np.abs((a + b) / 2 - truth)[:, :24].mean()
