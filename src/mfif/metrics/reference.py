"""Reference measures: a fused image or map against a known truth (numpy; scipy for the band's distances).

Used wherever the truth is known: the known-truth bench (:mod:`mfif.bench.synthetic`), training
validation, ``mfif demo`` and the scripts.

* :func:`psnr` / :func:`psnr_from_mse` — ``10·log10(peak² / MSE)`` in dB. **Identical images give
  ``+inf``** (the exact value); a caller that needs a finite number passes ``max_db`` (training
  validation logs 100 dB there, its ceiling since the first trained weights). An empty region gives NaN.
* :func:`boundary_band` — the pixels within ``width`` px (Euclidean) of the focus boundary, on both sides.
* :func:`band_psnr` — PSNR within that band.
* :func:`iou` — intersection over union of two binary masks.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

__all__ = ["psnr", "psnr_from_mse", "boundary_band", "band_psnr", "iou"]


def psnr_from_mse(mse: float, *, peak: float = 1.0, max_db: float = math.inf) -> float:
    """PSNR in dB for a mean squared error: ``10·log10(peak² / mse)``, at most ``max_db``.

    Args:
        mse: Mean squared error (>= 0) on the scale of ``peak``.
        peak: Data range (1 for images in [0, 1], 255 for 8-bit values).
        max_db: Ceiling; also the value for ``mse == 0`` (identical images; ``inf`` by default).

    Returns:
        PSNR in dB; NaN when ``mse`` is NaN.
    """
    if mse == 0:
        return float(max_db)
    return min(10.0 * math.log10(peak * peak / mse), float(max_db))


def psnr(
    x: np.ndarray,
    ref: np.ndarray,
    where: np.ndarray | None = None,
    *,
    peak: float = 1.0,
    max_db: float = math.inf,
) -> float:
    """PSNR in dB of ``x`` against ``ref`` (same shape), optionally over the pixels ``where``.

    Args:
        x, ref: Arrays of the same shape (H x W or H x W x C), any real dtype (computed in float64).
        where: Optional H x W bool selection of pixels.
        peak: Data range (1 for [0, 1] images, 255 for 8-bit values).
        max_db: Value for identical inputs and ceiling (``inf`` by default).

    Returns:
        PSNR in dB; ``max_db`` (``inf``) for identical inputs, NaN for an empty ``where``.
    """
    d = (np.asarray(x, np.float64) - np.asarray(ref, np.float64)) ** 2
    if where is not None:
        if not where.any():
            return math.nan
        d = d[where]
    return psnr_from_mse(float(d.mean()), peak=peak, max_db=max_db)


def boundary_band(mask: np.ndarray, width: float = 8) -> np.ndarray:
    """Pixels within ``width`` px of the focus boundary, on either side.

    A pixel of the foreground (``mask > 0.5``) at Euclidean distance d (centre to centre) to the nearest
    background pixel is in the band when d ≤ ``width``, and likewise for background pixels; distance 1
    = a pixel touching the boundary, so the band is about 2·width pixels wide.

    Args:
        mask: H x W, > 0.5 = foreground.
        width: Band half-width in pixels.

    Returns:
        bool H x W; all False when the mask is a single region.
    """
    m = np.asarray(mask) > 0.5
    if m.all() or not m.any():
        return np.zeros(m.shape, bool)
    dist = np.where(m, ndimage.distance_transform_edt(m), ndimage.distance_transform_edt(~m))
    return dist <= width


def band_psnr(x: np.ndarray, ref: np.ndarray, mask: np.ndarray, width: float = 8, *, peak: float = 1.0) -> float:
    """PSNR within :func:`boundary_band` of ``mask`` (NaN when the mask has no boundary)."""
    return psnr(x, ref, boundary_band(mask, width), peak=peak)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two binary masks (> 0.5); 1.0 if both are empty."""
    a = np.asarray(a) > 0.5
    b = np.asarray(b) > 0.5
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum() / union)
