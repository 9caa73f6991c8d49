"""Recovering the focus mask of a conventional-model triplet (A, B, all-in-focus G).

In the conventional model (eqs. 12–13) every pixel is either ``A = G, B = blur(G)`` (foreground,
mask 1) or ``A = blur(G), B = G`` (background). The algorithm:

1. **σ estimate.** For a grid of σ the per-pixel best of the two hypotheses is scored; the σ with the
   smallest mean residual wins (mf-voc fits σ ≈ 1.8–2.0).
2. **Evidence.** With ``G_b = blur(G, σ)``, per-pixel costs of the two hypotheses
   ``c_fg = |A − G|² + |B − G_b|²`` and ``c_bg = |A − G_b|² + |B − G|²`` (summed over channels, both
   sources used) are smoothed by a small Gaussian (JPEG noise). Their difference is large only where
   the image has texture (``G ≠ G_b``); a pixel is a *confident* seed when
   ``|c_bg − c_fg| > τ`` and the winning hypothesis explains at least a fraction ``min_margin`` of the
   texture energy ``2·|G − G_b|²``. Seed components smaller than ``min_seed`` pixels are discarded.
3. **Propagation.** Textureless pixels (where both sources match G) are labelled by a marker-based
   watershed on the colour gradient of G, so the undecided area is split along image edges; a few
   mean-field iterations of a Potts model (data term = the clipped evidence, 3×3 neighbourhood)
   then let weak evidence near the boundary (lost to JPEG noise by the seed test) correct it.
4. **Ambiguity.** A second, edge-blind labelling (nearest seed, Euclidean) is computed; the per-image
   ambiguity score is ``1 − IoU`` between the two foreground masks (0 = the undecided area is resolved
   the same way by both rules). When only one class has evidence the mask is that class everywhere
   and the score is the undecided fraction of the image (1 = no evidence at all). High scores mean the mask depends
   on a guess; such images can be dropped from a pack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import ndimage as ndi

from mfif.errors import MfifError
from mfif.filters import gaussian_blur
from mfif.metrics.reference import iou

__all__ = ["RecoveryResult", "recover_mask", "estimate_sigma", "voc_label_to_mask"]

SIGMA_GRID: tuple[float, ...] = tuple(np.round(np.arange(0.6, 4.01, 0.2), 2))


@dataclass
class RecoveryResult:
    """Result of :func:`recover_mask`.

    Attributes:
        mask: H×W float32 in {0, 1} (1 = sharp in A).
        ambiguity: Per-image score in [0, 1] (1 − IoU of two propagation rules; 1 without evidence).
        sigma: Estimated blur σ.
        confident: Fraction of pixels decided by direct evidence (not by propagation).
        seeds: H×W int8 seed map (1 = fg, −1 = bg, 0 = undecided) for figures and debugging.
        residual: RMS residual (8-bit levels) of the best per-pixel hypothesis at ``sigma``.
    """

    mask: np.ndarray
    ambiguity: float
    sigma: float
    confident: float
    seeds: np.ndarray = field(repr=False)
    residual: float = 0.0


def voc_label_to_mask(label_png) -> np.ndarray:  # noqa: ANN001
    """VOC-style label image → binary mask (every label ≠ 0 is foreground, the 255 void band included).

    Args:
        label_png: Path of a palette/gray label PNG, or an H×W integer array of label indices.

    Returns:
        H×W float32 in {0, 1}.
    """
    if isinstance(label_png, np.ndarray):
        lab = label_png
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(label_png) as im:
                if im.mode not in ("P", "L", "1", "I", "I;16"):
                    raise MfifError(f"{label_png}: expected a palette or gray label image, got mode {im.mode}")
                lab = np.asarray(im)  # palette images give the label indices, not colours
        except (OSError, UnidentifiedImageError) as exc:
            raise MfifError(f"{label_png}: unreadable label image ({exc})") from None
    if lab.ndim != 2:
        raise MfifError(f"label: expected H x W label indices, got shape {lab.shape}")
    return (lab != 0).astype(np.float32)


def _as_rgb(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3:
        raise MfifError(f"{name}: expected H x W or H x W x C, got shape {x.shape}")
    return x


def estimate_sigma(
    a: np.ndarray, b: np.ndarray, g: np.ndarray, *, grid: Sequence[float] = SIGMA_GRID
) -> tuple[float, float]:
    """Blur σ that best explains the triplet (per-pixel best hypothesis), and its RMS residual (levels)."""
    best = (float(grid[0]), np.inf)
    for s in grid:
        gb = gaussian_blur(g, s)
        fg = ((a - g) ** 2).sum(2) + ((b - gb) ** 2).sum(2)
        bg = ((a - gb) ** 2).sum(2) + ((b - g) ** 2).sum(2)
        r = float(np.sqrt(np.minimum(fg, bg).mean()) * 255.0)
        if r < best[1]:
            best = (float(s), r)
    return best


def recover_mask(
    a: np.ndarray,
    b: np.ndarray,
    g: np.ndarray,
    *,
    sigma: float | None = None,
    smooth: float = 0.5,
    tau: float = 3.0,
    min_margin: float = 0.25,
    min_seed: int = 8,
    refine: float = 1.0,
    refine_scale: float = 20.0,
    refine_iters: int = 10,
) -> RecoveryResult:
    """Recover the binary focus mask of a conventional-model triplet.

    Args:
        a: Source A (foreground sharp), H×W or H×W×3 float32 in [0, 1].
        b: Source B (background sharp), same shape.
        g: All-in-focus image, same shape.
        sigma: Blur σ of the model (None = estimate from the triplet over ``SIGMA_GRID``).
        smooth: σ of the Gaussian that smooths the per-pixel costs.
        tau: Evidence threshold on ``|c_bg − c_fg|`` in squared 8-bit levels (summed over channels
            and both sources); about 3× the typical JPEG-q75 noise term.
        min_margin: The cost difference must also exceed this fraction of the texture energy
            ``2·|G − blur(G)|²`` (rejects pixels that neither hypothesis explains).
        min_seed: Connected seed components smaller than this (pixels) are discarded.
        refine: Weight of the 3×3 neighbourhood term of the mean-field refinement (0 = off).
        refine_scale: Evidence (squared levels) that counts as one unit of log-odds there.
        refine_iters: Mean-field iterations.

    Returns:
        A :class:`RecoveryResult`.
    """
    from skimage.segmentation import watershed
    from skimage.filters import sobel

    a = _as_rgb(a, "A")
    b = _as_rgb(b, "B")
    g = _as_rgb(g, "all-in-focus")
    if not (a.shape == b.shape == g.shape):
        raise MfifError(f"triplet: sizes differ (A {a.shape}, B {b.shape}, all-in-focus {g.shape})")
    if sigma is None:
        sigma, resid = estimate_sigma(a, b, g)
    else:
        resid = float("nan")
    gb = gaussian_blur(g, sigma)
    scale = 255.0**2
    c_fg = (((a - g) ** 2).sum(2) + ((b - gb) ** 2).sum(2)) * scale
    c_bg = (((a - gb) ** 2).sum(2) + ((b - g) ** 2).sum(2)) * scale
    tex = 2.0 * ((g - gb) ** 2).sum(2) * scale
    if smooth > 0:
        c_fg = ndi.gaussian_filter(c_fg, smooth, mode="nearest")
        c_bg = ndi.gaussian_filter(c_bg, smooth, mode="nearest")
        tex = ndi.gaussian_filter(tex, smooth, mode="nearest")
    e = c_bg - c_fg
    strong = (np.abs(e) > tau) & (np.abs(e) > min_margin * tex)
    fg_seed = strong & (e > 0)
    bg_seed = strong & (e < 0)
    for s in (fg_seed, bg_seed):
        lab, n = ndi.label(s)
        if n:
            sizes = ndi.sum_labels(np.ones_like(lab), lab, index=np.arange(1, n + 1))
            small = np.zeros(n + 1, bool)
            small[1:] = sizes < min_seed
            s[small[lab]] = False
    seeds = np.zeros(e.shape, np.int8)
    seeds[fg_seed] = 1
    seeds[bg_seed] = -1
    confident = float(np.mean(seeds != 0))
    h, w = e.shape
    if not fg_seed.any() or not bg_seed.any():
        # Evidence for one class only: everything is that class; the undecided fraction could hide
        # the other one, so it is the ambiguity (1.0 when there is no evidence at all).
        val = 1.0 if fg_seed.any() else 0.0
        mask = np.full((h, w), val, np.float32)
        return RecoveryResult(mask, float(1.0 - confident), float(sigma), confident, seeds, resid)
    grad = sobel(g.mean(axis=2)) if g.shape[2] == 1 else np.max([sobel(g[..., c]) for c in range(g.shape[2])], axis=0)
    markers = np.zeros((h, w), np.int32)
    markers[bg_seed] = 1
    markers[fg_seed] = 2
    ws = watershed(grad, markers) == 2
    if refine > 0:
        # Mean-field Potts refinement started from the watershed labels: pixels with (weak)
        # evidence follow it, pixels without follow their 3x3 neighbourhood.
        data = np.clip(e / refine_scale, -3.0, 3.0)
        q = ws.astype(np.float32)
        for _ in range(refine_iters):
            field_ = data + refine * 9.0 * ndi.uniform_filter(2.0 * q - 1.0, 3, mode="nearest")
            q = 1.0 / (1.0 + np.exp(-field_))
        ws = q > 0.5
    # Edge-blind alternative: nearest seed.
    _, (iy, ix) = ndi.distance_transform_edt(markers == 0, return_indices=True)
    nn = markers[iy, ix] == 2
    amb = 1.0 - iou(ws, nn)
    return RecoveryResult(ws.astype(np.float32), float(amb), float(sigma), confident, seeds, resid)
