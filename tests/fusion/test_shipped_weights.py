"""The shipped mfif-gan-lite weights load and fuse a textured pair correctly (skipped if not shipped)."""

import numpy as np
import pytest

from mfif.models.weights import installed_weights


@pytest.mark.skipif(not installed_weights("mfif-gan-lite"), reason="mfif-gan-lite weights not installed")
def test_lite_weights_pick_the_sharp_sources(textured_pair):
    import mfif

    a, b, truth, mask = textured_pair
    res = mfif.fuse([a, b], method="mfif-gan-lite", device="cpu")
    assert res.decision_map.shape == mask.shape
    agree = (res.decision_map == mask)[:, 4:-4].mean()  # ignore the outer columns
    assert agree > 0.95
    # swapping the sources flips the map
    res2 = mfif.fuse([b, a], method="mfif-gan-lite", device="cpu")
    assert ((1 - res2.decision_map) == mask)[:, 4:-4].mean() > 0.95
    assert np.abs(res.fused - truth).mean() < np.abs(0.5 * (a + b) - truth).mean()
