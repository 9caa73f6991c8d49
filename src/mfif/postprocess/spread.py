"""Defocus-spread correction at the focus boundary (an improvement over the paper, off by default).

The defocus spread effect: in the far-focused source B, the blurred near object bleeds over the sharp
background just outside the object's boundary, so the paper's hard pick F = A·M + B·(1−M) keeps a halo
there (the most common complaint of focus-stacking users). Under the α-matte image model the paper
trains on (authors' form), for pixels outside the object (M = 0):

    A = blur_σ(I)              (the background is out of focus in A)
    B = blur_σ(I)·m + I·(1−m)  with m = blur_σ(M)

so the background can be *unmixed*:  I = (B − m·A) / (1 − m).  Given the decision map M and the blur
σ of the near object in B, this removes the halo instead of choosing the less-bad source. σ is
estimated from the pair itself: inside the object (away from its boundary) B ≈ blur_σ(A), so σ is
the blur that best maps A onto B there. Source A must be the near-focused one (the paper's
convention); pixels with m ≥ ``max_mix`` (where unmixing would amplify noise) keep B.

On real photographs the model holds only approximately (different blurs, occlusion geometry), so the
correction is opt-in (``spread_correction=True`` in :func:`mfif.fusion.pair.fuse_pair`) and measured
separately (docs/results.md).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from mfif.filters import gaussian_blur


def _gray(x: np.ndarray) -> np.ndarray:
    # The plain channel mean, not mfif.filters.luma: the σ fit is made on this gray, and switching the
    # weights would move the fitted σ and so change the corrected images (pinned by the output hashes).
    return x.mean(axis=2) if x.ndim == 3 else x


def estimate_spread_sigma(
    a: np.ndarray,
    b: np.ndarray,
    decision: np.ndarray,
    *,
    sigmas: np.ndarray | None = None,
    margin: int = 6,
    max_pixels: int = 200_000,
) -> float:
    """Blur σ that maps source A onto source B inside the near object (decision = 1).

    Args:
        a, b: Sources, float32 [0, 1], H×W or H×W×3.
        decision: Binary map H×W (1 = A in focus = near object).
        sigmas: Candidate σ values (default 0.5 … 4 in steps of 0.25).
        margin: Pixels eroded from the object so the spread zone does not bias the fit.
        max_pixels: Sub-sampling cap of the pixels used in the fit.

    Returns:
        The σ with the smallest mean squared error, or NaN when the object is too small to tell.
    """
    sig = np.arange(0.5, 4.01, 0.25) if sigmas is None else np.asarray(sigmas, float)
    inner = ndimage.binary_erosion(decision > 0.5, iterations=margin)
    if inner.sum() < 64:
        return float("nan")
    ga, gb = _gray(a), _gray(b)
    idx = np.flatnonzero(inner)
    if idx.size > max_pixels:
        idx = idx[:: idx.size // max_pixels + 1]
    errs = [float(np.mean((gaussian_blur(ga, float(s)).ravel()[idx] - gb.ravel()[idx]) ** 2)) for s in sig]
    return float(sig[int(np.argmin(errs))])


def correct_spread(
    a: np.ndarray,
    b: np.ndarray,
    decision: np.ndarray,
    fused: np.ndarray,
    *,
    sigma: float | None = None,
    max_mix: float = 0.9,
) -> tuple[np.ndarray, float]:
    """Unmix the defocus spread outside the near object; see the module docstring.

    Args:
        a, b: Sources, float32 [0, 1] (A = near-focused).
        decision: Binary decision map H×W (1 = A).
        fused: The hard-pick fusion to correct (same shape as the sources).
        sigma: Blur of the near object in B; None = :func:`estimate_spread_sigma`.
        max_mix: Keep the hard pick where the spread weight m = blur(M) reaches this value.

    Returns:
        ``(corrected, sigma)``; ``corrected`` equals ``fused`` where no correction applies (inside the
        object, far from it, or when σ cannot be estimated).
    """
    d = (decision > 0.5).astype(np.float32)
    if sigma is None:
        sigma = estimate_spread_sigma(a, b, d)
    if not np.isfinite(sigma) or sigma <= 0:
        return fused, float("nan")
    m = gaussian_blur(d, float(sigma))
    zone = (d < 0.5) & (m > 1e-3) & (m < max_mix)
    if not zone.any():
        return fused, float(sigma)
    mm = m[..., None] if a.ndim == 3 else m
    z = zone[..., None] if a.ndim == 3 else zone
    unmixed = np.clip((b - mm * a) / np.maximum(1.0 - mm, 1e-3), 0.0, 1.0)
    return np.where(z, unmixed, fused).astype(np.float32), float(sigma)
