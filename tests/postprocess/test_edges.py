"""Edge snapping: a guided filter of the focus map with the near-focus source as the guide."""

import numpy as np
import pytest

from mfif.errors import MfifError
from mfif.postprocess.edges import snap_to_edges


def _step_scene(shift: int):
    # guide: a sharp vertical edge at column 10 (object left, textured colours); map: a soft step whose
    # 0.5 crossing is `shift` px right of the edge (a misplaced boundary, as the network's maps are)
    h, w = 16, 24
    rng = np.random.default_rng(0)
    guide = np.empty((h, w, 3), np.float32)
    guide[:, :10] = 0.8 + 0.02 * rng.random((h, 10, 3), dtype=np.float32)
    guide[:, 10:] = 0.2 + 0.02 * rng.random((h, w - 10, 3), dtype=np.float32)
    x = np.arange(w, dtype=np.float32)
    fmap = np.broadcast_to(1.0 / (1.0 + np.exp((x - (9.5 + shift)) / 0.6)), (h, w)).astype(np.float32)
    return guide, fmap


def _drops(m):
    """Mean decrease of the map across the guide's edge (column 9 -> 10) and one px right of it (10 -> 11)."""
    return float((m[:, 9] - m[:, 10]).mean()), float((m[:, 10] - m[:, 11]).mean())


def test_concentrates_a_misplaced_transition_at_the_guide_edge():
    guide, fmap = _step_scene(shift=1)
    out = snap_to_edges(fmap, guide)
    assert out.shape == fmap.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    (e0, n0), (e1, n1) = _drops(fmap), _drops(out)
    # the step of the map (centred one px right of the edge) moves onto the guide's edge:
    # more of it across the edge, less of it across the next column (computed when written: 0.23 -> 0.38 and 0.39 -> 0.22)
    assert e1 > e0 + 0.08 and n1 < n0 - 0.08
    np.testing.assert_allclose(out[:, :7], fmap[:, :7], atol=0.03)  # flat regions keep their values
    np.testing.assert_allclose(out[:, 14:], fmap[:, 14:], atol=0.03)


def test_gray_guide_and_bad_arguments():
    guide, fmap = _step_scene(shift=1)
    (e0, n0), (e1, n1) = _drops(fmap), _drops(snap_to_edges(fmap, guide.mean(axis=2)))
    assert e1 > e0 + 0.08 and n1 < n0 - 0.08
    with pytest.raises(MfifError, match="shape"):
        snap_to_edges(fmap, guide[:-1])
    with pytest.raises(MfifError, match="radius"):
        snap_to_edges(fmap, guide, radius=0)
    with pytest.raises(MfifError, match="eps"):
        snap_to_edges(fmap, guide, eps=0)



def test_uses_the_shared_guided_filter_in_float64():
    from mfif.filters import guided_filter, guided_filter_color

    guide, fmap = _step_scene(shift=1)  # flat regions: window variances ~1e-5 (float32 would fail here)
    np.testing.assert_allclose(snap_to_edges(fmap, guide),
                               np.clip(guided_filter_color(guide, fmap, 1, 1e-5), 0, 1), atol=1e-7)
    g = guide[..., 1]
    np.testing.assert_allclose(snap_to_edges(fmap, g), np.clip(guided_filter(g, fmap, 1, 1e-5), 0, 1), atol=1e-7)
