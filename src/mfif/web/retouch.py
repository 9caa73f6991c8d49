"""Retouch strokes: parse, rasterise and re-compose (pure numpy, no web imports).

A stroke paints "take the pixels from frame k" along a polyline. Its weight at a pixel whose centre
lies at distance ``d`` from the polyline is 1 inside the hard core ``r·(1 − soft)``, falls linearly to
0 at the radius ``r``, and is 0 beyond (``soft = 0``: a hard disc). Coordinates are image pixels with
pixel (row i, column j) centred at ``(x, y) = (j + 0.5, i + 0.5)``. The page draws its instant
preview with the same formula (``static/app.js``).

Strokes are applied in order to per-pixel coefficients: ``c₀`` on the un-retouched fusion ``F₀`` and
``c_k`` on frame ``S_k`` (start ``c₀ = 1``); a stroke of weight ``w`` on frame ``k`` scales every
coefficient by ``1 − w`` and adds ``w`` to ``c_k``, so ``F = c₀·F₀ + Σ c_k·S_k``. The edited decision
map of a pair is ``M' = c₀·M₀ + c_A`` (1 = frame A), and for a hard map ``F₀ = A·M₀ + B·(1 − M₀)``
this gives exactly ``F = A·M' + B·(1 − M')``; for a stack the edited depth map takes per pixel the
index with the largest coefficient (``c₀`` standing for the original index), so a hard brush selects
the painted frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from mfif.errors import MfifError

MAX_STROKES = 5000
MAX_POINTS = 200_000  # over all strokes
MAX_RADIUS = 4096.0


@dataclass(frozen=True)
class Stroke:
    """One brush stroke.

    Attributes:
        frame: 0-based index of the source frame whose pixels are painted in.
        radius: Brush radius in image pixels (> 0).
        soft: Feathered fraction of the radius, 0 (hard edge) … 1 (linear fall-off from the centre).
        points: ``(P, 2)`` float64 array of ``(x, y)`` image coordinates, P ≥ 1.
    """

    frame: int
    radius: float
    soft: float
    points: np.ndarray


def _num(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise MfifError(f"retouch: {what} must be a finite number, got {v!r}")
    return float(v)


def parse_strokes(data: Any, *, n_frames: int) -> list[Stroke]:
    """Validate a JSON stroke list (``[{"frame", "radius", "soft", "points": [[x, y], …]}, …]``).

    Raises:
        MfifError: one line naming the stroke and field that is wrong.
    """
    if not isinstance(data, list):
        raise MfifError("retouch: 'strokes' must be a list")
    if len(data) > MAX_STROKES:
        raise MfifError(f"retouch: at most {MAX_STROKES} strokes, got {len(data)}")
    out: list[Stroke] = []
    total = 0
    for i, s in enumerate(data):
        if not isinstance(s, dict) or set(s) - {"frame", "radius", "soft", "points"}:
            raise MfifError(f"retouch: stroke {i} must be an object with frame, radius, soft, points")
        frame = s.get("frame")
        if isinstance(frame, bool) or not isinstance(frame, int) or not 0 <= frame < n_frames:
            raise MfifError(f"retouch: stroke {i}: frame must be an integer in 0..{n_frames - 1}, got {frame!r}")
        radius = _num(s.get("radius"), f"stroke {i}: radius")
        if not 0 < radius <= MAX_RADIUS:
            raise MfifError(f"retouch: stroke {i}: radius must be in (0, {MAX_RADIUS:g}], got {radius:g}")
        soft = _num(s.get("soft", 0.0), f"stroke {i}: soft")
        if not 0.0 <= soft <= 1.0:
            raise MfifError(f"retouch: stroke {i}: soft must be in [0, 1], got {soft:g}")
        pts = s.get("points")
        if not isinstance(pts, list) or not pts:
            raise MfifError(f"retouch: stroke {i}: points must be a non-empty list of [x, y]")
        total += len(pts)
        if total > MAX_POINTS:
            raise MfifError(f"retouch: at most {MAX_POINTS} points over all strokes")
        arr = np.empty((len(pts), 2), dtype=np.float64)
        for j, p in enumerate(pts):
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                raise MfifError(f"retouch: stroke {i}: point {j} must be [x, y]")
            arr[j, 0] = _num(p[0], f"stroke {i}: point {j} x")
            arr[j, 1] = _num(p[1], f"stroke {i}: point {j} y")
        out.append(Stroke(frame=frame, radius=radius, soft=soft, points=arr))
    return out


def stroke_weight(stroke: Stroke, shape: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """Rasterise one stroke.

    Args:
        stroke: The stroke.
        shape: Image ``(H, W)``.

    Returns:
        ``(window, w)`` with ``w`` float32 in [0, 1] over the image window it touches, or None when
        the stroke misses the image.
    """
    h, w_ = shape
    r = stroke.radius
    pts = stroke.points
    x0 = int(np.floor(pts[:, 0].min() - r - 0.5))
    x1 = int(np.ceil(pts[:, 0].max() + r + 0.5))
    y0 = int(np.floor(pts[:, 1].min() - r - 0.5))
    y1 = int(np.ceil(pts[:, 1].max() + r + 0.5))
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, w_), min(y1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    ys = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5
    d2 = np.full((y1 - y0, x1 - x0), np.inf)
    if len(pts) == 1:
        d2 = (xs - pts[0, 0]) ** 2 + (ys - pts[0, 1]) ** 2
    for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:]):
        dx, dy = bx - ax, by - ay
        ll = dx * dx + dy * dy
        if ll > 0:
            t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / ll, 0.0, 1.0)
        else:
            t = np.zeros((1, 1))
        d2 = np.minimum(d2, (xs - ax - t * dx) ** 2 + (ys - ay - t * dy) ** 2)
    d = np.sqrt(d2)
    core = r * (1.0 - stroke.soft)
    if r - core > 1e-9:
        wgt = np.clip((r - d) / (r - core), 0.0, 1.0)
    else:
        wgt = (d <= r).astype(np.float64)
    return (slice(y0, y1), slice(x0, x1)), wgt.astype(np.float32)


def coefficients(strokes: Sequence[Stroke], shape: tuple[int, int]) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Per-pixel coefficients ``(c₀, {k: c_k})`` of the strokes applied in order (H×W float32 each)."""
    c0 = np.ones(shape, dtype=np.float32)
    ck: dict[int, np.ndarray] = {}
    for s in strokes:
        hit = stroke_weight(s, shape)
        if hit is None:
            continue
        win, w = hit
        keep = 1.0 - w
        c0[win] *= keep
        for arr in ck.values():
            arr[win] *= keep
        if s.frame not in ck:
            ck[s.frame] = np.zeros(shape, dtype=np.float32)
        ck[s.frame][win] += w
    return c0, ck


def compose(fused: np.ndarray, frames: Sequence[np.ndarray], strokes: Sequence[Stroke]) -> np.ndarray:
    """Re-compose the fusion with the strokes: ``F = c₀·F₀ + Σ c_k·S_k`` (float32 [0, 1], F₀'s shape).

    Args:
        fused: The un-retouched fusion ``F₀``, H×W or H×W×3.
        frames: The N (aligned, harmonised) source frames, same layout as ``fused``.
        strokes: Parsed strokes.
    """
    if not strokes:
        return fused
    c0, ck = coefficients(strokes, fused.shape[:2])
    expand = (lambda a: a[..., None]) if fused.ndim == 3 else (lambda a: a)
    out = expand(c0) * fused
    for k, c in ck.items():
        out = out + expand(c) * frames[k]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def edited_decision_map(decision: np.ndarray, strokes: Sequence[Stroke]) -> np.ndarray:
    """The edited map of a pair, ``M' = c₀·M₀ + c_A`` (H×W float32 in [0, 1], 1 = frame A)."""
    if not strokes:
        return decision
    c0, ck = coefficients(strokes, decision.shape)
    out = c0 * decision.astype(np.float32)
    if 0 in ck:
        out = out + ck[0]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def edited_depth_map(depth: np.ndarray, strokes: Sequence[Stroke]) -> np.ndarray:
    """The edited index map of a stack: per pixel the index with the largest coefficient (int32 H×W)."""
    if not strokes:
        return depth
    c0, ck = coefficients(strokes, depth.shape)
    idx = depth.astype(np.int32).copy()
    best = c0
    for k in sorted(ck):
        better = ck[k] > best
        idx[better] = k
        best = np.where(better, ck[k], best)
    return idx
