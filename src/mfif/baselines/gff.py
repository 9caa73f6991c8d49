"""GFF: image fusion with guided filtering (Li, Kang, Hu, IEEE TIP 22(7):2864-2875, 2013).

Implemented from the paper and the description in docs/baselines.md (authors' defaults r1 = 45,
eps1 = 0.3, r2 = 7, eps2 = 1e-6, 31x31 mean filter, 11x11 Gaussian with sigma 5):

1. two-scale split: base = 31x31 mean (replicate border), detail = I − base;
2. saliency = Gaussian(11x11, sigma 5, replicate) of |3x3 Laplacian| (replicate) of the gray image;
3. P_k = one-hot argmax of the saliency over the N sources (ties → first);
4. W_B,k = GF(I_k, P_k; r1, eps1), W_D,k = GF(I_k, P_k; r2, eps2), clipped to [0, 1] and quantised to
   1/255 as the released code does through uint8, then normalised across k;
5. F = Σ W_B,k B_k + Σ W_D,k D_k.

Colour: base/detail per channel; the guide is the gray image (as in the common release) unless
``color_guide=True`` (the paper's colour guided filter).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from mfif.baselines._common import (
    check_images,
    check_option,
    gray,
    quantize_uint8,
)
from mfif.filters import guided_filter, guided_filter_color
from mfif.registry import FusionResult, register_method

_LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float64)  # MATLAB fspecial('laplacian', 0)


def _gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``: sampled, normalised to sum 1."""
    ax = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2.0 * sigma * sigma))
    g[g < np.finfo(np.float64).eps * g.max()] = 0
    return g / g.sum()


def saliency(g: np.ndarray, *, gauss_size: int = 11, gauss_sigma: float = 5.0) -> np.ndarray:
    """GFF saliency: Gaussian-smoothed |Laplacian| of a gray image (replicate borders). float64 H x W."""
    lap = np.abs(ndimage.correlate(np.asarray(g, np.float64), _LAPLACIAN, mode="nearest"))
    return ndimage.correlate(lap, _gaussian_kernel(gauss_size, gauss_sigma), mode="nearest")


@register_method(
    "gff",
    description="Guided filtering fusion: two-scale split, saliency argmax, guided-filtered weights (Li et al. 2013)",
    max_inputs=None,
    citation="S. Li, X. Kang, J. Hu, IEEE TIP 22(7):2864-2875, 2013",
)
def gff_fuse(
    images: Sequence[np.ndarray],
    *,
    r1: int = 45,
    eps1: float = 0.3,
    r2: int = 7,
    eps2: float = 1e-6,
    mean_size: int = 31,
    gauss_size: int = 11,
    gauss_sigma: float = 5.0,
    quantize_weights: bool = True,
    color_guide: bool = False,
) -> FusionResult:
    """Fuse N >= 2 sources with GFF.

    Args:
        images: N sources, all H x W or all H x W x 3, float32 [0, 1].
        r1, eps1: Guided-filter radius and regularisation for the base-layer weights.
        r2, eps2: Same for the detail-layer weights.
        mean_size: Side of the mean filter of the two-scale split.
        gauss_size, gauss_sigma: Gaussian that smooths the |Laplacian| saliency.
        quantize_weights: Quantise the filtered weights to 1/255 (as the released code does).
        color_guide: For RGB input, guide with the colour image instead of its gray version.

    Returns:
        FusionResult: ``fused``; ``focus_map`` = normalised base weight of the first source;
        ``decision_map`` = P_1 (the argmax map, 1 = first source) for pairs; ``depth_map`` = argmax
        index; ``extras["detail_weights"]`` = normalised W_D (K x H x W).
    """
    m = "gff"
    imgs = check_images(images, method=m)
    for nm, v in (("r1", r1), ("r2", r2)):
        check_option(m, nm, v, isinstance(v, (int, np.integer)) and v >= 1, "an integer >= 1")
    for nm, v in (("eps1", eps1), ("eps2", eps2)):
        check_option(m, nm, v, v > 0, "> 0")
    check_option(m, "mean_size", mean_size, isinstance(mean_size, int) and mean_size >= 1, "an integer >= 1")
    check_option(m, "gauss_size", gauss_size, isinstance(gauss_size, int) and gauss_size >= 1, "an integer >= 1")
    check_option(m, "gauss_sigma", gauss_sigma, gauss_sigma > 0, "> 0")

    colour = imgs[0].ndim == 3
    grays = [gray(im) for im in imgs]
    sal = np.stack([saliency(g, gauss_size=gauss_size, gauss_sigma=gauss_sigma) for g in grays])
    idx = np.argmax(sal, axis=0)
    k_n = len(imgs)

    wb = np.empty((k_n,) + grays[0].shape)
    wd = np.empty_like(wb)
    for k in range(k_n):
        p = (idx == k).astype(np.float64)
        if colour and color_guide:
            guide = np.asarray(imgs[k], np.float64)
            wb[k] = guided_filter_color(guide, p, r1, eps1)
            wd[k] = guided_filter_color(guide, p, r2, eps2)
        else:
            wb[k] = guided_filter(grays[k], p, r1, eps1)
            wd[k] = guided_filter(grays[k], p, r2, eps2)
    if quantize_weights:
        wb, wd = quantize_uint8(wb), quantize_uint8(wd)
    else:
        wb, wd = np.clip(wb, 0, 1), np.clip(wd, 0, 1)
    for w in (wb, wd):
        s = w.sum(axis=0)
        zero = s <= 0
        s[zero] = 1.0
        w /= s
        w[:, zero] = 1.0 / k_n  # no weight anywhere: average (the original would give NaN)

    fused = np.zeros(imgs[0].shape, np.float64)
    for k, im in enumerate(imgs):
        im64 = np.asarray(im, np.float64)
        base = ndimage.uniform_filter(im64, size=(mean_size, mean_size) + ((1,) if colour else ()), mode="nearest")
        detail = im64 - base
        b_w = wb[k][..., None] if colour else wb[k]
        d_w = wd[k][..., None] if colour else wd[k]
        fused += b_w * base + d_w * detail
    fused = np.clip(fused, 0.0, 1.0).astype(np.float32)
    res = FusionResult(
        fused=fused,
        focus_map=wb[0].astype(np.float32),
        depth_map=idx.astype(np.int32),
        extras={"detail_weights": wd.astype(np.float32)},
    )
    if k_n == 2:
        res.decision_map = (idx == 0).astype(np.float32)
    return res
