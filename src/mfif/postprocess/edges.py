"""Edge snapping of a soft focus map: a guided filter with one source as the guide.

The generator sees the sources through ¼-resolution features, so its map misplaces the focus boundary
by about one pixel in a fifth of the boundary pixels (docs/results.md §1). In the near-focus source the
boundary of the in-focus object is a sharp edge; a guided filter (He, Sun, Tang, TPAMI 2013) of radius 1
with that source as the guide makes the map locally an affine function of the guide's colours in every
3×3 window, which concentrates the map's transition at that edge (steeper across it, flatter beside
it). The composition then gains most with the soft weights of ``fuse_pair(soft=True)``. With the far-focus source (or the fused
image) as the guide it gains little: there the edge is blurred or mixed (measured on training-split
pairs, docs/results.md).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from mfif.errors import MfifError

EDGE_RADIUS = 1
EDGE_EPS = 1e-5


def snap_to_edges(
    focus_map: np.ndarray, guide: np.ndarray, *, radius: int = EDGE_RADIUS, eps: float = EDGE_EPS
) -> np.ndarray:
    """Guided-filter a soft focus map with a source image as the guide.

    Args:
        focus_map: H×W float32 in [0, 1] (1 = A in focus).
        guide: The near-focus source, H×W or H×W×3 float32 in [0, 1] (same H, W).
        radius: Window radius in px (≥ 1; 1 = 3×3 windows, chosen on training-split pairs).
        eps: Regularisation on the guide's (co)variance, guide in [0, 1] (> 0).

    Returns:
        H×W float32 in [0, 1].

    Raises:
        MfifError: shapes differ, or radius / eps out of range.
    """
    if guide.shape[:2] != focus_map.shape:
        raise MfifError(f"edge guide has shape {guide.shape[:2]}, the focus map {focus_map.shape}")
    if int(radius) < 1 or not eps > 0:
        raise MfifError(f"edge snapping needs radius >= 1 and eps > 0, got radius={radius}, eps={eps}")
    q = _guided_filter(np.asarray(guide, np.float64), np.asarray(focus_map, np.float64), int(radius), float(eps))
    return np.clip(q, 0.0, 1.0).astype(np.float32)


def _guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He's guided filter (gray or colour guide, windows clipped at the border) with C box filters and a
    closed-form 3×3 inverse: the same function as :func:`mfif.baselines._common.guided_filter_color` /
    ``guided_filter`` (tested equal), several times faster. Give float64 inputs: with a small ``eps`` the
    window variances of flat regions (≈ 1e-5) are differences of numbers ≈ 0.5, which float32 cannot
    resolve (errors up to 0.03 in the output measured on a noisy step)."""
    size = 2 * r + 1
    n = ndimage.uniform_filter(np.ones(src.shape, src.dtype), size, mode="constant")

    def mean(x: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(x, size, mode="constant") / n

    g = guide if guide.ndim == 3 else guide[..., None]
    ch = [np.ascontiguousarray(g[..., c]) for c in range(g.shape[2])]
    mg = [mean(c) for c in ch]
    mp = mean(src)
    cov = [mean(c * src) - m * mp for c, m in zip(ch, mg)]
    if len(ch) == 1:
        a = [cov[0] / (mean(ch[0] * ch[0]) - mg[0] * mg[0] + eps)]
    else:
        v = {(i, j): mean(ch[i] * ch[j]) - mg[i] * mg[j] + (eps if i == j else 0.0) for i in range(3) for j in range(i, 3)}
        s00, s01, s02, s11, s12, s22 = v[0, 0], v[0, 1], v[0, 2], v[1, 1], v[1, 2], v[2, 2]
        # inverse of the symmetric 3×3 covariance by cofactors
        c00 = s11 * s22 - s12 * s12
        c01 = s02 * s12 - s01 * s22
        c02 = s01 * s12 - s02 * s11
        c11 = s00 * s22 - s02 * s02
        c12 = s01 * s02 - s00 * s12
        c22 = s00 * s11 - s01 * s01
        det = s00 * c00 + s01 * c01 + s02 * c02
        x0, x1, x2 = cov
        a = [(c00 * x0 + c01 * x1 + c02 * x2) / det, (c01 * x0 + c11 * x1 + c12 * x2) / det,
             (c02 * x0 + c12 * x1 + c22 * x2) / det]
    b = mp - sum(ai * m for ai, m in zip(a, mg))
    return sum(mean(ai) * c for ai, c in zip(a, ch)) + mean(b)
