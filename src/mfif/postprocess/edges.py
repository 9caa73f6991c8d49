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

from mfif.errors import MfifError
from mfif.filters import guided_filter, guided_filter_color

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
    gf = guided_filter_color if guide.ndim == 3 else guided_filter
    q = gf(guide, focus_map, int(radius), float(eps))  # float64 inside: flat-region variances ≈ 1e-5
    return np.clip(q, 0.0, 1.0).astype(np.float32)
