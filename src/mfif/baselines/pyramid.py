"""LP: Laplacian-pyramid fusion (Burt & Adelson 1983; as in Liu's MST toolbox / Rockinger's toolbox).

Per level (``level = 4`` by default), for each source:

1. if a side is odd, repeat its last row/column so both sides are even;
2. blur with the separable generating kernel w = [1 4 6 4 1]/16 (mirror extension by 2 px, no edge
   repetition) → G;
3. band-pass = image − EXPAND(REDUCE(G)), where REDUCE keeps every second sample and EXPAND inserts
   zeros and filters with 2·w (so the interpolation preserves the mean);
4. the next level works on REDUCE(G).

Fusion: each band-pass level with "choose-max with consistency check" (3x3 local max of |c|,
choose the larger, 3x3 majority vote); the top (lowpass) level is averaged. Reconstruction runs
EXPAND + band-pass from the top and crops to the stored size at each level. Colour: per channel;
N > 2 sources: sequential pairs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from mfif.baselines._common import check_images, check_option, choose_max_consistency, fuse_sequential, per_channel
from mfif.registry import FusionResult, register_method

_W = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Separable 5-tap filter with mirror extension (scipy ``mirror``, MATLAB-style ``es2``)."""
    y = ndimage.correlate1d(x, w, axis=0, mode="mirror")
    return ndimage.correlate1d(y, w, axis=1, mode="mirror")


def _expand(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Zero-insert upsampling to ``shape`` (even sizes) and filtering with 2·w along each axis."""
    up = np.zeros(shape, np.float64)
    up[::2, ::2] = x
    return _blur(up, 2.0 * _W)


def lp_decompose(img: np.ndarray, level: int) -> tuple[list[np.ndarray], np.ndarray, list[tuple[int, int]]]:
    """Laplacian pyramid: (band-pass levels fine → coarse, top lowpass, original size per level)."""
    m = np.asarray(img, np.float64)
    bands, sizes = [], []
    for _ in range(level):
        sizes.append(m.shape)
        pad = (m.shape[0] % 2, m.shape[1] % 2)
        if any(pad):
            m = np.pad(m, ((0, pad[0]), (0, pad[1])), mode="edge")
        g = _blur(m, _W)
        low = g[::2, ::2]
        bands.append(m - _expand(low, m.shape))
        m = low
    return bands, m, sizes


def lp_reconstruct(bands: list[np.ndarray], top: np.ndarray, sizes: list[tuple[int, int]]) -> np.ndarray:
    """Inverse of :func:`lp_decompose`."""
    m = top
    for band, size in zip(reversed(bands), reversed(sizes)):
        m = _expand(m, band.shape) + band
        m = m[: size[0], : size[1]]
    return m


def fuse_lp_gray(a: np.ndarray, b: np.ndarray, *, level: int, consistency: bool = True) -> np.ndarray:
    """Fuse two gray images with the LP rule. Returns float64 H x W."""
    ba, ta, sizes = lp_decompose(a, level)
    bb, tb, _ = lp_decompose(b, level)
    if consistency:
        bands = [choose_max_consistency(x, y) for x, y in zip(ba, bb)]
    else:
        bands = [np.where(np.abs(x) >= np.abs(y), x, y) for x, y in zip(ba, bb)]
    return lp_reconstruct(bands, (ta + tb) / 2.0, sizes)


def _pair(images, *, level, consistency):
    fused = per_channel(lambda ch: fuse_lp_gray(ch[0], ch[1], level=level, consistency=consistency), images)
    return FusionResult(fused=np.clip(fused, 0.0, 1.0).astype(np.float32))


@register_method(
    "lp",
    description="Laplacian pyramid: average top level, choose-max + consistency on band-pass levels",
    max_inputs=None,
    citation="P.J. Burt, E.H. Adelson, IEEE Trans. Commun. 31(4), 1983",
)
def lp_fuse(images: Sequence[np.ndarray], *, level: int = 4, consistency: bool = True) -> FusionResult:
    """Laplacian-pyramid fusion of N >= 2 sources (pairwise rule, sequential for N > 2).

    Args:
        images: All H x W or all H x W x 3, float32 [0, 1].
        level: Number of band-pass levels (>= 1).
        consistency: Use the 3x3 consistency check (False = plain max-abs selection).

    Returns:
        FusionResult with ``fused`` only.
    """
    imgs = check_images(images, method="lp")
    check_option("lp", "level", level, isinstance(level, int) and level >= 1, "an integer >= 1")
    min_side = min(imgs[0].shape[:2])
    check_option("lp", "level", level, min_side >= 2 ** (level + 1), f"small enough for a {min_side}-px image")
    return fuse_sequential(_pair, imgs, level=level, consistency=consistency)
