"""Retouch strokes: weights, re-composition and the edited maps (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from mfif.errors import MfifError
from mfif.web import retouch as rt


def _stroke(frame=0, radius=3.0, soft=0.0, points=((10.5, 10.5),)):  # noqa: ANN001, ANN202
    return rt.Stroke(frame=frame, radius=radius, soft=soft, points=np.asarray(points, dtype=np.float64))


def test_hard_disc_weight_is_the_pixels_within_the_radius():
    win, w = rt.stroke_weight(_stroke(radius=3.0), (20, 20))
    full = np.zeros((20, 20), np.float32)
    full[win] = w
    yy, xx = np.mgrid[0:20, 0:20] + 0.5
    expect = ((xx - 10.5) ** 2 + (yy - 10.5) ** 2 <= 9.0).astype(np.float32)
    assert np.array_equal(full, expect)


def test_soft_edge_falls_linearly_from_the_core_to_the_radius():
    win, w = rt.stroke_weight(_stroke(radius=4.0, soft=0.5, points=((10.5, 10.5),)), (21, 21))
    full = np.zeros((21, 21), np.float32)
    full[win] = w
    assert full[10, 10] == 1.0 and full[10, 12] == 1.0  # d = 0, 2 (core radius 2)
    assert full[10, 13] == pytest.approx(0.5)  # d = 3: halfway between 2 and 4
    assert full[10, 14] == 0.0 and full[10, 15] == 0.0  # d = 4, 5


def test_segment_distance_covers_the_line_between_points():
    win, w = rt.stroke_weight(_stroke(radius=1.0, points=((2.5, 5.5), (17.5, 5.5))), (10, 20))
    full = np.zeros((10, 20), np.float32)
    full[win] = w
    assert full[5, 2:18].min() == 1.0 and full[4, 2:18].min() == 1.0 and full[3].max() == 0.0


def test_stroke_outside_the_image_is_ignored():
    assert rt.stroke_weight(_stroke(points=((-50, -50),)), (10, 10)) is None
    f = np.full((10, 10), 0.25, np.float32)
    assert np.array_equal(rt.compose(f, [f * 0, f * 0 + 1], [_stroke(frame=1, points=((-50, -50),))]), f)


def test_pair_compose_equals_the_paper_formula_with_the_edited_map(rng):  # noqa: ANN001
    a = rng.random((16, 20, 3)).astype(np.float32)
    b = rng.random((16, 20, 3)).astype(np.float32)
    m = (rng.random((16, 20)) > 0.5).astype(np.float32)
    f0 = a * m[..., None] + b * (1 - m[..., None])
    strokes = [_stroke(frame=1, radius=4, soft=0.6, points=((5, 5), (12, 9))),
               _stroke(frame=0, radius=3, soft=0.3, points=((8, 8),)),
               _stroke(frame=1, radius=2, soft=0.0, points=((15, 3), (15, 12)))]
    out = rt.compose(f0, [a, b], strokes)
    m2 = rt.edited_decision_map(m, strokes)
    assert not np.array_equal(m2, m)
    np.testing.assert_allclose(out, a * m2[..., None] + b * (1 - m2[..., None]), atol=2e-6)


def test_stack_hard_brush_selects_the_painted_frame(rng):  # noqa: ANN001
    frames = [rng.random((12, 12)).astype(np.float32) for _ in range(3)]
    depth = rng.integers(0, 3, (12, 12)).astype(np.int32)
    f0 = np.choose(depth, frames).astype(np.float32)
    s = _stroke(frame=2, radius=2.5, soft=0.0, points=((6, 6),))
    out = rt.compose(f0, frames, [s])
    d2 = rt.edited_depth_map(depth, [s])
    np.testing.assert_array_equal(out, np.choose(d2, frames))
    assert d2[5, 5] == 2 and np.array_equal(d2[0], depth[0])


def test_no_strokes_returns_the_inputs(rng):  # noqa: ANN001
    f = rng.random((8, 8)).astype(np.float32)
    assert rt.compose(f, [f, f], []) is f
    d = np.zeros((8, 8), np.int32)
    assert rt.edited_depth_map(d, []) is d


@pytest.mark.parametrize("data, needle", [
    ({}, "list"),
    ([1], "object"),
    ([{"frame": True, "radius": 1, "soft": 0, "points": [[0, 0]]}], "frame"),
    ([{"frame": 0, "radius": float("nan"), "soft": 0, "points": [[0, 0]]}], "radius"),
    ([{"frame": 0, "radius": 1e9, "soft": 0, "points": [[0, 0]]}], "radius"),
    ([{"frame": 0, "radius": 1, "soft": -0.1, "points": [[0, 0]]}], "soft"),
    ([{"frame": 0, "radius": 1, "soft": 0, "points": [[0, 0, 0]]}], "point 0"),
])
def test_parse_refuses_bad_strokes(data, needle):  # noqa: ANN001
    with pytest.raises(MfifError, match=needle):
        rt.parse_strokes(data, n_frames=2)


def test_parse_limits_the_number_of_points():
    many = [{"frame": 0, "radius": 1, "soft": 0, "points": [[0, 0]] * (rt.MAX_POINTS // 2 + 1)}] * 2
    with pytest.raises(MfifError, match="at most"):
        rt.parse_strokes(many, n_frames=2)
