"""BF baseline (Zhang et al. 2017): behaviour on a tiny synthetic pair, options, registry."""

from __future__ import annotations

import numpy as np
import pytest

from mfif.baselines.bf import bf, multiscale_morph_fm
from mfif.errors import MfifError
from mfif.registry import get_method


def test_registered():
    assert get_method("bf").fn is bf


def test_focus_measure_prefers_sharp(textured_pair):
    a, b, _, mask = textured_pair
    fa = multiscale_morph_fm(a[..., 0] * 255.0)
    fb = multiscale_morph_fm(b[..., 0] * 255.0)
    assert fa[:, :20].mean() > fb[:, :20].mean()
    assert fb[:, 44:].mean() > fa[:, 44:].mean()


def test_picks_sharp_half(textured_pair):
    a, b, truth, mask = textured_pair
    res = bf([a, b], band=8)  # band 20 would erase both markers on a 64 px image
    assert res.fused.shape == a.shape and res.fused.dtype == np.float32
    assert 0.0 <= res.fused.min() and res.fused.max() <= 1.0
    dm = res.decision_map
    assert set(np.unique(dm)) <= {0.0, 1.0}
    assert np.mean(dm == mask) > 0.9
    assert dm[:, :24].mean() > 0.95 and dm[:, 40:].mean() < 0.05
    err = np.abs(res.fused - truth).mean()
    assert err < 0.3 * min(np.abs(a - truth).mean(), np.abs(b - truth).mean())


def test_default_band_on_small_image_and_gray(textured_pair):
    a, b, _, mask = textured_pair
    res = bf([b[..., 1], a[..., 1]])  # default band 20: watershed step skipped, map still correct
    assert res.fused.shape == mask.shape
    assert np.mean(res.decision_map == 1 - mask) > 0.9


def test_three_inputs(textured_pair):
    a, b, _, _ = textured_pair
    assert bf([a, b, b]).fused.shape == a.shape


@pytest.mark.parametrize("opts", [{"window": 4}, {"window": 1}, {"scales": 0}, {"band": 0}, {"band": 2.5}])
def test_bad_options(textured_pair, opts):
    a, b, _, _ = textured_pair
    with pytest.raises(MfifError):
        bf([a, b], **opts)


def test_bad_inputs(textured_pair):
    a, b, _, _ = textured_pair
    with pytest.raises(MfifError):
        bf([a])
    with pytest.raises(MfifError):
        bf([a, b[..., 0]])
