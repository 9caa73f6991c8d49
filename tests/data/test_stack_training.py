"""Synthetic training stacks made from photographs (mfif.data.stack_training)."""

from __future__ import annotations

import numpy as np
import pytest

from mfif.data.stack_training import SceneBank, make_training_stack
from mfif.errors import MfifError


def _bank(n: int = 3) -> SceneBank:
    rng = np.random.default_rng(7)
    from scipy import ndimage

    return SceneBank(images=[ndimage.gaussian_filter(rng.random((80, 96)), 1.0) for _ in range(n)])


def test_seeded_and_shaped() -> None:
    a = make_training_stack(_bank(), np.random.default_rng(3), n=5, size=48)
    b = make_training_stack(_bank(), np.random.default_rng(3), n=5, size=48)
    assert a.frames.shape == (5, 48, 48) and a.frames.dtype == np.float32
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.z, b.z)
    assert a.truth.shape == (48, 48) and 0 <= a.z.min() and a.z.max() <= 4
    assert 0.0 <= a.frames.min() and a.frames.max() <= 1.0


def test_the_frame_focused_at_a_depth_is_sharp_there() -> None:
    # without noise, JPEG or breathing, the frame focused at a pixel's depth is closer to the truth there
    # than the frames two or more steps away (averaged over pixels of each depth, away from depth edges)
    from scipy import ndimage

    better = 0
    total = 0
    for seed in range(6):
        s = make_training_stack(_bank(), np.random.default_rng(seed), n=4, size=64, step=(1.5, 2.0), noise=(0, 0),
                                jpeg_p=0.0, breathing_p=0.0)
        depth = np.clip(np.rint(s.z), 0, 3).astype(int)
        far = ndimage.distance_transform_edt(~s.edges) > 6
        err = np.stack([ndimage.uniform_filter(np.abs(f - s.truth), 5) for f in s.frames])
        for d in np.unique(depth[far]):
            sel = far & (depth == d) & (np.abs(s.z - d) < 0.25)
            others = [k for k in range(4) if abs(k - d) >= 2]
            if sel.sum() < 30 or not others:
                continue
            total += 1
            better += all(err[d][sel].mean() < err[k][sel].mean() for k in others)
    assert total >= 4 and better == total


def test_errors() -> None:
    with pytest.raises(MfifError, match="at least two frames"):
        make_training_stack(_bank(), np.random.default_rng(0), n=1)
    with pytest.raises(MfifError, match="not a folder"):
        SceneBank("/nonexistent/scenes")
