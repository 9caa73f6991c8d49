"""MWGF baseline (Zhou et al. 2014): behaviour on a tiny synthetic pair, options, registry."""

from __future__ import annotations

import numpy as np
import pytest

from mfif.errors import MfifError
from mfif.registry import get_method


def _mse(x, y):
    return float(np.mean((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2))


def test_registered():
    info = get_method("mwgf")
    assert info.max_inputs is None
    assert "Zhou" in info.citation


def test_picks_sharp_half(textured_pair):
    a, b, truth, mask = textured_pair
    res = get_method("mwgf").fn([a, b])
    assert res.fused.shape == a.shape and res.fused.dtype == np.float32
    assert 0.0 <= res.fused.min() and res.fused.max() <= 1.0
    w = res.focus_map
    assert w.shape == mask.shape
    # away from the focus boundary (columns 24..40) the weight of A follows the truth
    assert w[:, :20].mean() > 0.9
    assert w[:, 44:].mean() < 0.1
    assert _mse(res.fused, truth) < 0.5 * min(_mse(a, truth), _mse(b, truth))


def test_gray_and_swapped_order(textured_pair):
    a, b, truth, mask = textured_pair
    ga, gb = a[..., 0], b[..., 0]
    r1 = get_method("mwgf").fn([ga, gb])
    r2 = get_method("mwgf").fn([gb, ga])
    assert r1.fused.shape == ga.shape
    # the map follows the sources, not their order
    assert r1.decision_map[:, :20].mean() > 0.9 and r2.decision_map[:, :20].mean() < 0.1


def test_three_inputs(textured_pair):
    a, b, truth, _ = textured_pair
    res = get_method("mwgf").fn([a, b, a], iterations=50)
    assert res.fused.shape == a.shape


@pytest.mark.parametrize(
    "opts",
    [{"sigma_large": 0}, {"per": 1.5}, {"iterations": -1}, {"step": -0.1}, {"margin": 0.5}],
)
def test_bad_options(textured_pair, opts):
    a, b, _, _ = textured_pair
    with pytest.raises(MfifError):
        get_method("mwgf").fn([a, b], **opts)


def test_bad_inputs(textured_pair):
    a, b, _, _ = textured_pair
    with pytest.raises(MfifError):
        get_method("mwgf").fn([a])
    with pytest.raises(MfifError):
        get_method("mwgf").fn([a, b[:32]])


@pytest.mark.shared
def test_parity_with_original_on_survey_pair(shared_dir):
    """Against the original MATLAB MWGF output of the MFIF survey (yuliu316316/MFIF, pair g_10).

    Provenance: the reference TIFF was produced by the authors' code (survey README); our result
    measured 47.3 dB with `scripts/baseline_parity.py --methods mwgf --pairs g_10`; the bar is the task's 40 dB target.
    """
    import tifffile

    root = shared_dir / "data" / "reference" / "survey-gray"
    a = tifffile.imread(root / "sourceimages" / "grayscale" / "g_10_1.tif").astype(np.float32) / 255
    b = tifffile.imread(root / "sourceimages" / "grayscale" / "g_10_2.tif").astype(np.float32) / 255
    ref = tifffile.imread(root / "Results" / "grayscale" / "g_10_mwgf.tif").astype(np.float64)
    ours = np.floor(get_method("mwgf").fn([a, b]).fused * 255.0 + 0.5)
    from mfif.metrics.reference import psnr

    assert psnr(ours, ref, peak=255.0) >= 40.0
