"""Behaviour shared by the part-1 classical baselines on tiny synthetic pairs (no ../shared needed).

Each method must: return float32 in [0, 1] of the input shape, pick the sharp half of the
``textured_pair`` fixture (A sharp left, B sharp right), work on gray input and on N = 3 sources,
and reject bad options with MfifError. Thresholds: the fused image's mean absolute error to the
all-sharp truth, away from the focus boundary (±8 px), must be below 30 % of the error of the plain
average (A+B)/2 (2 sources) or 50 % (3 sources); decision maps must agree with the truth mask on
≥ 95 % of those pixels. These are loose behavioural bounds, not measured golden values.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from mfif.errors import MfifError
from mfif.registry import get_method

METHODS = ["laplacian-argmax", "sf", "sml", "eol", "gff", "quadtree", "dsift", "lp", "dwt"]
# DSIFT's default area-open (3600 px) is larger than a 64x64 test image: use a proportionate one.
TINY_OPTS = {"dsift": {"area": 200}}
BAD_OPTS = {
    "laplacian-argmax": {"window": 4},
    "sf": {"block_size": 1},
    "sml": {"step": 0},
    "eol": {"window": 0},
    "gff": {"eps1": -1.0},
    "quadtree": {"ratio": 1.5},
    "dsift": {"scale": 20},
    "lp": {"level": 0},
    "dwt": {"wavelet": "no-such-wavelet"},
}


def _interior(mask: np.ndarray, cols: tuple[int, ...], band: int = 8) -> np.ndarray:
    keep = np.ones(mask.shape, bool)
    for c in cols:
        keep[:, max(c - band, 0) : c + band] = False
    return keep


def _fuse(name, images, **extra):
    opts = dict(TINY_OPTS.get(name, {}))
    opts.update(extra)
    return get_method(name).fn(images, **opts)


@pytest.mark.parametrize("name", METHODS)
def test_registered_with_citation(name):
    info = get_method(name)
    assert info.citation and info.description


@pytest.mark.parametrize("name", METHODS)
def test_picks_sharp_half_rgb(name, textured_pair):
    a, b, truth, mask = textured_pair
    res = _fuse(name, [a, b])
    f = res.fused
    assert f.shape == a.shape and f.dtype == np.float32
    assert float(f.min()) >= 0.0 and float(f.max()) <= 1.0
    keep = _interior(mask, (32,))
    err = np.abs(f - truth)[keep].mean()
    err_avg = np.abs((a + b) / 2 - truth)[keep].mean()
    assert err < 0.3 * err_avg
    if res.decision_map is not None:
        assert res.decision_map.shape == mask.shape
        assert np.mean((res.decision_map > 0.5)[keep] == (mask > 0.5)[keep]) >= 0.95


@pytest.mark.parametrize("name", METHODS)
def test_gray_input(name, textured_pair):
    a, b, truth, mask = textured_pair
    ga, gb, gt = a.mean(axis=2), b.mean(axis=2), truth.mean(axis=2)
    f = _fuse(name, [ga, gb]).fused
    assert f.shape == ga.shape and f.dtype == np.float32
    keep = _interior(mask, (32,))
    assert np.abs(f - gt)[keep].mean() < 0.3 * np.abs((ga + gb) / 2 - gt)[keep].mean()


@pytest.mark.parametrize("name", METHODS)
def test_three_sources(name, rng):
    h = w = 64
    truth = gaussian_filter(rng.random((h, w, 3)).astype(np.float32), sigma=(0.7, 0.7, 0))
    blurred = gaussian_filter(truth, sigma=(2.0, 2.0, 0))
    third = np.zeros((h, w), int)
    third[:, 21:43] = 1
    third[:, 43:] = 2
    srcs = [np.where((third == k)[..., None], truth, blurred).astype(np.float32) for k in range(3)]
    assert get_method(name).max_inputs is None
    res = _fuse(name, srcs)
    assert res.fused.shape == truth.shape and res.fused.dtype == np.float32
    keep = _interior(third, (21, 43))
    err = np.abs(res.fused - truth)[keep].mean()
    assert err < 0.5 * np.abs(np.mean(srcs, axis=0) - truth)[keep].mean()
    if res.depth_map is not None:
        assert res.depth_map.dtype == np.int32 and res.depth_map.shape == (h, w)


@pytest.mark.parametrize("name", METHODS)
def test_bad_option(name, textured_pair):
    a, b, _, _ = textured_pair
    with pytest.raises(MfifError, match=name):
        _fuse(name, [a, b], **BAD_OPTS[name])


@pytest.mark.parametrize("name", METHODS)
def test_rejects_single_or_mismatched(name, textured_pair):
    a, b, _, _ = textured_pair
    with pytest.raises(MfifError):
        _fuse(name, [a])
    with pytest.raises(MfifError):
        _fuse(name, [a, b[:32]])
