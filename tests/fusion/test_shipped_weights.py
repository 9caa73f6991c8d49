"""The shipped weights (mfif-gan-lite, mfif-gan) load and fuse a textured pair correctly (skipped if not shipped)."""

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


@pytest.mark.skipif(not installed_weights("mfif-gan"), reason="mfif-gan weights not installed")
def test_paper_weights_pick_the_sharp_sources(textured_pair):
    """The shipped paper-size generator (13.7 M parameters, GPU-trained) on the same tiny pair, on CPU."""
    import mfif
    from mfif.models.weights import load_generator

    assert sum(p.numel() for p in load_generator(name="mfif-gan").parameters()) == 13_700_928
    a, b, truth, mask = textured_pair
    res = mfif.fuse([a, b], method="mfif-gan", device="cpu")
    agree = (res.decision_map == mask)[:, 4:-4].mean()
    assert agree > 0.95
    assert np.abs(res.fused - truth).mean() < np.abs(0.5 * (a + b) - truth).mean()


@pytest.mark.parametrize(
    "full, lite, cuda, expected",
    [(True, True, True, "mfif-gan"), (True, True, False, "mfif-gan-lite"), (False, True, True, "mfif-gan-lite"),
     (True, False, False, "mfif-gan"), (False, False, True, "gff")],
)
def test_default_method_prefers_the_full_model_only_with_a_gpu(monkeypatch, full, lite, cuda, expected):
    import torch

    from mfif.fusion import methods

    have = {"mfif-gan": full, "mfif-gan-lite": lite}
    monkeypatch.setattr(methods, "installed_weights", lambda name: ["x"] if have[name] else [])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert methods.default_method() == expected
