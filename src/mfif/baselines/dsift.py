"""DSIFT: multi-focus fusion with dense SIFT (Liu, Liu, Wang, Information Fusion 23:139-155, 2015).

Implemented from the paper and docs/baselines.md §3.2 (authors' defaults: scale 48, i.e. a 24-px
dense-SIFT patch on a 1-px grid, block size 8, matching on):

1. dense SIFT (un-normalised, Lazebnik/Ce-Liu flavour) of each gray source: zero pad by
   scale/4 − 1 px, divide by the maximum, derivative-of-Gaussian gradients, 8 orientation channels
   max(cos(θ − a_j), 0)^9·|∇I|, separable triangular pooling, 4x4 spatial bins → 128-D per pixel;
2. activity = sum of the 128 raw entries;
3. initial maps: an 8x8 window slides with stride 1 and votes for the source with the larger summed
   activity; a pixel belongs to map_A when more than 99 % of the windows covering it voted A (same
   for B); each map is area-opened (components and holes smaller than 3600 px removed);
4. pixels in map_A only → 1, map_B only → 0; the others are decided by descriptor matching: the best
   L2 match of the (Lowe-normalised) descriptor of A at p among B's descriptors in the 7x7
   neighbourhood (and vice versa), and the 7x7 spatial frequency of the patches: 1 if
   SF_A(p) > SF_B(q_AB) and SF_B(p) < SF_A(q_BA), 0 if both are reversed, else 0.5;
5. F = A·M + B·(1 − M).

Pairs only; N > 2 sources are fused sequentially. Colour: map from the gray images.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from mfif.baselines._common import (
    apply_map,
    area_open,
    check_images,
    check_option,
    fuse_sequential,
    gray255,
)
from mfif.filters import box_sum
from mfif.registry import FusionResult, register_method


def _dgauss(sigma: float, half: int) -> tuple[np.ndarray, np.ndarray]:
    """x/y derivative (central differences, one-sided at the edges) of a (2·half+1)² Gaussian,
    each scaled so that Σ|k| = 2."""
    ax = np.arange(-half, half + 1, dtype=np.float64)
    g1 = np.exp(-(ax**2) / (2 * sigma * sigma)) / (np.sqrt(2 * np.pi) * sigma)
    g = np.outer(g1, g1)
    gy, gx = np.gradient(g)  # numpy: central inside, one-sided at the edges (as MATLAB gradient)
    gx = gx * 2.0 / np.abs(gx).sum()
    gy = gy * 2.0 / np.abs(gy).sum()
    return gx, gy


def dense_sift(g: np.ndarray, *, patch_size: int = 24, sigma: float = 1.0, deriv_half: int = 2) -> np.ndarray:
    """Un-normalised dense SIFT descriptor of every pixel.

    Args:
        g: Gray image H x W (any scale; it is divided by its maximum after padding).
        patch_size: Descriptor patch side (scale/2 = 24 for DSIFT's default scale 48); a multiple of 4.
        sigma: Gaussian sigma of the gradient filters.
        deriv_half: Half-size of the derivative kernel (2 → 5x5).

    Returns:
        float32 array H x W x 128.
    """
    pad = patch_size // 2 - 1  # scale/4 − 1 = 11 px for scale 48
    img = np.pad(np.asarray(g, np.float64), pad, mode="constant")
    mx = img.max()
    if mx > 0:
        img = img / mx
    gx, gy = _dgauss(sigma, deriv_half)
    ix = ndimage.correlate(img, gx, mode="constant")
    iy = ndimage.correlate(img, gy, mode="constant")
    mag = np.sqrt(ix * ix + iy * iy)
    theta = np.arctan2(iy, ix)
    # triangular pooling kernel, conv2 'same' of an even kernel: full convolution sliced at m//2
    n_bins = 4
    res = patch_size / n_bins
    x = np.arange(1, patch_size + 1, dtype=np.float64)
    # w(x) = max(0, 1 − |x − cx|/res), x = 1..patch, cx = patch/2 − 0.5 (11.5 for 24 px)
    wk = np.maximum(0.0, 1.0 - np.abs(x - (patch_size / 2 - 0.5)) / res)
    hp, wp = img.shape
    offsets = [int(round(-pad + i * res)) for i in range(n_bins)]  # {-11, -5, 1, 7} for 24 px
    h, w = hp - 2 * pad, wp - 2 * pad
    desc = np.empty((8 * n_bins * n_bins, h, w), np.float32)  # channel-first: contiguous writes
    for j in range(8):
        c = np.maximum(np.cos(theta - j * np.pi / 4.0), 0.0)
        c2 = c * c
        c4 = c2 * c2
        ch = c4 * c4 * c * mag  # max(cos, 0)^9 · |∇I|
        # == np.convolve(v, wk)[patch//2 : patch//2 + n] along each axis (even kernel, checked)
        full = ndimage.convolve1d(ch, wk, axis=0, mode="constant")
        full = ndimage.convolve1d(full, wk, axis=1, mode="constant")
        for by, oy in enumerate(offsets):
            for bx, ox in enumerate(offsets):
                desc[(by * n_bins + bx) * 8 + j] = full[pad + oy : pad + oy + h, pad + ox : pad + ox + w]
    return np.moveaxis(desc, 0, -1)


def _normalize_desc(d: np.ndarray) -> np.ndarray:
    """Lowe normalisation (unit length, clip at 0.2, renormalise) where the norm exceeds 1."""
    d = d.astype(np.float64)
    n = np.linalg.norm(d, axis=-1, keepdims=True)
    big = n[..., 0] > 1
    dn = d[big] / n[big]
    dn = np.minimum(dn, 0.2)
    dn /= np.maximum(np.linalg.norm(dn, axis=-1, keepdims=True), 1e-12)
    d[big] = dn
    return d


def _sf7(g: np.ndarray, r: int = 3) -> np.ndarray:
    """Spatial frequency of the (2r+1)² patch around each pixel: sqrt((Σ dy² + Σ dx²)/(2r+1)²)."""
    g = np.asarray(g, np.float64)
    h, w = g.shape
    dy2 = np.zeros((h, w))
    dx2 = np.zeros((h, w))
    dy2[1:] = (g[1:] - g[:-1]) ** 2  # diff between row y and y−1, stored at y
    dx2[:, 1:] = (g[:, 1:] - g[:, :-1]) ** 2
    k = 2 * r + 1
    # vertical diffs inside rows y−r..y+r are stored at rows y−r+1..y+r (likewise horizontally)
    cs_v = _window_sum(dy2, (-r + 1, r), (-r, r))
    cs_h = _window_sum(dx2, (-r, r), (-r + 1, r))
    # cumulative-sum window sums can leave tiny negative residues where the image is flat
    return np.sqrt(np.maximum(cs_v + cs_h, 0.0) / (k * k))


def _window_sum(x: np.ndarray, ry: tuple[int, int], rx: tuple[int, int]) -> np.ndarray:
    """Sum of x[y+ry0 : y+ry1+1, x+rx0 : x+rx1+1] per pixel (zero outside)."""
    h, w = x.shape
    c = np.zeros((h + 1, w + 1))
    c[1:, 1:] = x.cumsum(0).cumsum(1)
    y0 = np.clip(np.arange(h) + ry[0], 0, h)
    y1 = np.clip(np.arange(h) + ry[1] + 1, 0, h)
    x0 = np.clip(np.arange(w) + rx[0], 0, w)
    x1 = np.clip(np.arange(w) + rx[1] + 1, 0, w)
    return c[np.ix_(y1, x1)] - c[np.ix_(y0, x1)] - c[np.ix_(y1, x0)] + c[np.ix_(y0, x0)]


def initial_maps(act_a: np.ndarray, act_b: np.ndarray, *, block: int = 8, ratio: float = 0.99) -> tuple[np.ndarray, np.ndarray]:
    """Sliding-window voting: bool maps where > ``ratio`` of the covering windows voted A (resp. B)."""
    h, w = act_a.shape
    c = block
    sa = _window_sum(act_a, (0, c - 1), (0, c - 1))[: h - c + 1, : w - c + 1]
    sb = _window_sum(act_b, (0, c - 1), (0, c - 1))[: h - c + 1, : w - c + 1]
    win_a = (sa > sb).astype(np.float64)
    win_b = (sb > sa).astype(np.float64)

    def spread(v: np.ndarray) -> np.ndarray:
        full = np.zeros((h, w))
        full[: h - c + 1, : w - c + 1] = v
        return _window_sum(full, (-(c - 1), 0), (-(c - 1), 0))

    count = spread(np.ones_like(win_a))
    return spread(win_a) / count > ratio, spread(win_b) / count > ratio


def _match(
    na: np.ndarray, nb: np.ndarray, index: np.ndarray, ys: np.ndarray, xs: np.ndarray, r: int
) -> tuple[np.ndarray, np.ndarray]:
    """For pixels (ys, xs): position of the best L2 match of A's descriptor at p among B's
    descriptors in the (2r+1)² window. ``na``/``nb`` hold Lowe-normalised descriptors of the pixels
    that ``index`` (H x W, −1 elsewhere) points to. Ties take the first minimum in MATLAB
    column-major order (x outer, y inner)."""
    best = np.full(ys.shape, np.inf)
    by = ys.copy()
    bx = xs.copy()
    dp = na[index[ys, xs]]
    for ox in range(-r, r + 1):
        for oy in range(-r, r + 1):
            qy, qx = ys + oy, xs + ox
            dist = np.sum((dp - nb[index[qy, qx]]) ** 2, axis=1)
            better = dist < best
            best[better] = dist[better]
            by[better] = qy[better]
            bx[better] = qx[better]
    return by, bx


def dsift_map(
    ga: np.ndarray,
    gb: np.ndarray,
    *,
    scale: int = 48,
    block: int = 8,
    matching: bool = True,
    ratio: float = 0.99,
    area: float = 3600,
    deriv_half: int = 2,
) -> tuple[np.ndarray, dict]:
    """DSIFT fusion map (1 = A, 0 = B, 0.5 = blend) from two gray images on the 0..255 scale."""
    patch = scale // 2
    da = dense_sift(ga, patch_size=patch, deriv_half=deriv_half)
    db = dense_sift(gb, patch_size=patch, deriv_half=deriv_half)
    act_a = np.moveaxis(da, -1, 0).sum(axis=0, dtype=np.float32).astype(np.float64)
    act_b = np.moveaxis(db, -1, 0).sum(axis=0, dtype=np.float32).astype(np.float64)
    ma, mb = initial_maps(act_a, act_b, block=block, ratio=ratio)
    ma = area_open(ma, area)
    mb = area_open(mb, area)
    m = np.full(ga.shape, 0.5)
    m[ma & ~mb] = 1.0
    m[mb & ~ma] = 0.0
    h, w = ga.shape
    r = 3
    unc = m == 0.5
    inner = np.zeros_like(unc)
    inner[r : h - r, r : w - r] = True
    ys, xs = np.nonzero(unc & inner)
    sfa, sfb = _sf7(ga, r), _sf7(gb, r)
    if ys.size:
        if matching:
            # normalise once, only the descriptors that the 7x7 searches can reach
            need = ndimage.binary_dilation(unc & inner, structure=np.ones((2 * r + 1, 2 * r + 1), bool))
            index = np.full(need.shape, -1, np.int64)
            index[need] = np.arange(int(need.sum()))
            na, nb = _normalize_desc(da[need]), _normalize_desc(db[need])
            yab, xab = _match(na, nb, index, ys, xs, r)
            yba, xba = _match(nb, na, index, ys, xs, r)
            c1 = (sfa[ys, xs] > sfb[yab, xab]) & (sfb[ys, xs] < sfa[yba, xba])
            c0 = (sfa[ys, xs] < sfb[yab, xab]) & (sfb[ys, xs] > sfa[yba, xba])
        else:
            c1 = sfa[ys, xs] > sfb[ys, xs]
            c0 = sfa[ys, xs] < sfb[ys, xs]
        m[ys[c1], xs[c1]] = 1.0
        m[ys[c0], xs[c0]] = 0.0
    return m, {"initial_a": ma, "initial_b": mb, "activity_a": act_a, "activity_b": act_b}


def _pair(images, **opts) -> FusionResult:
    m, ex = dsift_map(gray255(images[0]), gray255(images[1]), **opts)
    mf = m.astype(np.float32)
    return FusionResult(
        fused=apply_map(images, mf),
        focus_map=mf,
        decision_map=(mf > 0.5).astype(np.float32),
        extras={"initial_a": ex["initial_a"], "initial_b": ex["initial_b"]},
    )


@register_method(
    "dsift",
    description="Dense SIFT activity + descriptor matching (Liu, Liu, Wang 2015)",
    max_inputs=None,
    citation="Y. Liu, S. Liu, Z. Wang, Information Fusion 23:139-155, 2015",
)
def dsift_fuse(
    images: Sequence[np.ndarray],
    *,
    scale: int = 48,
    block_size: int = 8,
    matching: bool = True,
    area: float = 3600,
) -> FusionResult:
    """DSIFT fusion (pairs; N > 2 sources are fused sequentially).

    Args:
        images: All H x W or all H x W x 3, float32 [0, 1].
        scale: DSIFT scale; the descriptor patch is scale/2 px (must be a multiple of 8, >= 16).
        block_size: Side of the sliding voting window.
        matching: Decide uncertain pixels by descriptor matching (False: compare SF at p only).
        area: Area-open size (px) for the initial maps.

    Returns:
        FusionResult with ``focus_map`` (1 / 0 / 0.5 blend) and ``decision_map`` = focus_map > 0.5
        for pairs.
    """
    m = "dsift"
    imgs = check_images(images, method=m)
    check_option(m, "scale", scale, isinstance(scale, int) and scale >= 16 and scale % 8 == 0, "a multiple of 8 >= 16")
    check_option(m, "block_size", block_size, isinstance(block_size, int) and block_size >= 1, "an integer >= 1")
    check_option(m, "area", area, area >= 0, ">= 0")
    h, w = imgs[0].shape[:2]
    check_option(m, "block_size", block_size, block_size <= min(h, w), f"at most the image side ({min(h, w)})")
    return fuse_sequential(_pair, imgs, scale=scale, block=block_size, matching=matching, area=area)
