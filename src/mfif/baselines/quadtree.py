"""Quadtree-based multi-focus fusion (Bai, Zhang, Zhou, Xue, Information Fusion 22:105-118, 2015).

Implemented from the paper and docs/baselines.md §3.1 (authors' defaults: ML threshold T = 5 on the
0..255 scale, 17x17 weighting kernel 1/(d+1), split ratio 0.98, disk radius 3, area h·w/40):

1. focus measure WML: modified Laplacian (step 1, symmetric border), values < T zeroed, correlated
   with the un-normalised 17x17 kernel H = 1/(d+1) (symmetric border);
2. the K maps are zero-padded, centred, to N x N (N = next power of two);
3. quadtree split from one N x N block down to 2 x 2: a block splits when
   0 < MDFM < ratio·SMDG, with MDFM = max_k − min_k of the block sums of WML_k and
   SMDG = block sum of the per-pixel (max_k − min_k) WML;
4. every leaf gets the source with the largest block sum (ties → undefined); crop to h x w;
5. per label: binary opening then closing with MATLAB's default ``strel('disk', 3)`` — the line
   approximation, which for radius 3 is the 5 x 5 square (:func:`disk_footprint`; the exact disk is
   ``disk_approximation=0``) — then area-open (remove
   8-connected components and fill holes smaller than h·w/40); pixels claimed by ≠ 1 label become
   undefined after each step;
6. fuse: copy source k where the label is k; at undefined pixels take the source with the largest
   WML (average on ties).

Handles K >= 2 sources natively; colour: decision on the gray image, applied to every channel.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from mfif.baselines._common import area_open, check_images, check_option, disk_footprint, gray255
from mfif.baselines.focus_measures import modified_laplacian
from mfif.registry import FusionResult, register_method


def _wml_kernel(size: int) -> np.ndarray:
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size]
    return 1.0 / (np.sqrt((yy - c) ** 2 + (xx - c) ** 2) + 1.0)


def weighted_modified_laplacian(g: np.ndarray, *, threshold: float = 5.0, kernel_size: int = 17) -> np.ndarray:
    """WML focus measure of a gray image on the 0..255 scale (float64 H x W)."""
    ml = modified_laplacian(g, step=1, threshold=threshold)
    return ndimage.correlate(ml, _wml_kernel(kernel_size), mode="reflect")


def _block_sum(x: np.ndarray, s: int) -> np.ndarray:
    """Sum of the last two axes over non-overlapping s x s blocks (sizes divisible by s)."""
    *lead, h, w = x.shape
    return x.reshape(*lead, h // s, s, w // s, s).sum(axis=(-3, -1))


def quadtree_labels(wml: np.ndarray, *, ratio: float = 0.98) -> np.ndarray:
    """Quadtree leaf labels for K focus maps ``wml`` (K x H x W): int32 H x W, −1 = undefined."""
    k_n, h, w = wml.shape
    n = 1 << int(np.ceil(np.log2(max(h, w, 2))))
    top, left = (n - h) // 2, (n - w) // 2
    pad = np.zeros((k_n, n, n), np.float64)
    pad[:, top : top + h, left : left + w] = wml
    spread = pad.max(axis=0) - pad.min(axis=0)
    labels = np.full((n, n), -1, np.int32)
    alive = np.ones((1, 1), bool)
    s = n
    levels = int(np.log2(n)) - 1
    for lev in range(levels + 1):
        fm = _block_sum(pad, s)  # K x n/s x n/s
        best = fm.max(axis=0)
        lab = np.argmax(fm, axis=0).astype(np.int32)
        lab[(fm == best[None]).sum(axis=0) > 1] = -1
        if lev < levels:
            mdfm = best - fm.min(axis=0)
            smdg = _block_sum(spread, s)
            split = alive & (mdfm > 0) & (mdfm < ratio * smdg)
        else:
            split = np.zeros_like(alive)
        leaf = alive & ~split
        leaf_px = np.repeat(np.repeat(leaf, s, axis=0), s, axis=1)
        lab_px = np.repeat(np.repeat(lab, s, axis=0), s, axis=1)
        labels[leaf_px] = lab_px[leaf_px]
        alive = np.repeat(np.repeat(split, 2, axis=0), 2, axis=1)
        s //= 2
        if not alive.any():
            break
    return labels[top : top + h, left : left + w]


def _unique_claims(masks: list[np.ndarray]) -> np.ndarray:
    """Label = k where exactly one mask claims the pixel, −1 elsewhere."""
    st = np.stack(masks)
    lab = np.argmax(st, axis=0).astype(np.int32)
    lab[st.sum(axis=0) != 1] = -1
    return lab


def _erode(m: np.ndarray, se: np.ndarray) -> np.ndarray:
    # MATLAB binary imerode: pixels outside the image count as foreground
    return ndimage.binary_erosion(m, structure=se, border_value=1)


def _dilate(m: np.ndarray, se: np.ndarray) -> np.ndarray:
    return ndimage.binary_dilation(m, structure=se, border_value=0)


def _open(m: np.ndarray, se: np.ndarray) -> np.ndarray:
    return _dilate(_erode(m, se), se)


def _close(m: np.ndarray, se: np.ndarray) -> np.ndarray:
    return _erode(_dilate(m, se), se)


def clean_labels(
    labels: np.ndarray, k_n: int, *, disk_radius: int = 3, area: float | None = None, disk_approximation: int = 4
) -> np.ndarray:
    """Opening + closing with a disk, then area-open, per label (see module docstring)."""
    h, w = labels.shape
    se = disk_footprint(disk_radius, approximation=disk_approximation)
    masks = [_close(_open(labels == k, se), se) for k in range(k_n)]
    labels = _unique_claims(masks)
    p = h * w / 40.0 if area is None else float(area)
    masks = [area_open(labels == k, p, connectivity=2) for k in range(k_n)]
    return _unique_claims(masks)


@register_method(
    "quadtree",
    description="Quadtree decomposition with weighted modified Laplacian (Bai et al. 2015)",
    max_inputs=None,
    citation="X. Bai, Y. Zhang, F. Zhou, B. Xue, Information Fusion 22:105-118, 2015",
)
def quadtree_fuse(
    images: Sequence[np.ndarray],
    *,
    threshold: float = 5.0,
    kernel_size: int = 17,
    ratio: float = 0.98,
    disk_radius: int = 3,
    disk_approximation: int = 4,
    area: float | None = None,
) -> FusionResult:
    """Quadtree fusion of N >= 2 sources.

    Args:
        images: All H x W or all H x W x 3, float32 [0, 1].
        threshold: ML threshold T (0..255 gray scale).
        kernel_size: Odd side of the 1/(d+1) weighting kernel.
        ratio: Split when 0 < MDFM < ratio·SMDG.
        disk_radius: Radius of the opening/closing disk (0 disables).
        disk_approximation: 4 = MATLAB's default ``strel('disk', r)`` line approximation (the
            original code's; bit-exact parity with the survey), 0 = the exact Euclidean disk.
        area: Area-open size in pixels (None = h·w/40).

    Returns:
        FusionResult with ``depth_map`` (source per pixel; averaged ties take the lowest index) and,
        for pairs, ``focus_map`` = weight of the first source and ``decision_map`` = focus_map > 0.5.
        ``extras["labels"]``: cleaned labels (−1 = undefined).
    """
    m = "quadtree"
    imgs = check_images(images, method=m)
    check_option(m, "threshold", threshold, threshold >= 0, ">= 0")
    check_option(m, "kernel_size", kernel_size, isinstance(kernel_size, int) and kernel_size >= 1 and kernel_size % 2 == 1, "an odd integer >= 1")
    check_option(m, "ratio", ratio, 0 < ratio <= 1, "in (0, 1]")
    check_option(m, "disk_radius", disk_radius, isinstance(disk_radius, int) and disk_radius >= 0, "an integer >= 0")
    check_option(m, "disk_approximation", disk_approximation, disk_approximation in (0, 4), "0 or 4")
    check_option(m, "area", area, area is None or area >= 0, "None or >= 0")
    k_n = len(imgs)
    wml = np.stack([weighted_modified_laplacian(gray255(im), threshold=threshold, kernel_size=kernel_size) for im in imgs])
    labels = quadtree_labels(wml, ratio=ratio)
    if disk_radius > 0 or area is None or area > 0:
        if disk_radius > 0:
            labels = clean_labels(labels, k_n, disk_radius=disk_radius, area=area, disk_approximation=disk_approximation)
        else:
            p = labels.shape[0] * labels.shape[1] / 40.0 if area is None else float(area)
            labels = _unique_claims([area_open(labels == k, p) for k in range(k_n)])
    # weights: one-hot where defined; at undefined pixels the max-WML sources share equally
    weights = np.stack([(labels == k) for k in range(k_n)]).astype(np.float64)
    und = labels < 0
    if und.any():
        best = wml.max(axis=0)
        tie = (wml == best[None]) & und[None]
        weights += tie / np.maximum(tie.sum(axis=0, keepdims=True), 1)
    st = np.stack([np.asarray(im, np.float64) for im in imgs])
    wb = weights[..., None] if st.ndim == 4 else weights
    fused = np.clip((st * wb).sum(axis=0), 0.0, 1.0).astype(np.float32)
    res = FusionResult(fused=fused, depth_map=np.argmax(weights, axis=0).astype(np.int32), extras={"labels": labels})
    if k_n == 2:
        res.focus_map = weights[0].astype(np.float32)
        res.decision_map = (weights[0] > 0.5).astype(np.float32)
    return res
