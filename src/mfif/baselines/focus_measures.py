"""Simple focus-measure fusers: "laplacian-argmax", spatial-frequency blocks ("sf"), "sml", "eol".

All of them compute a focus measure per source on the gray image (0..255 scale), pick the sharpest
source per pixel (or per block) and clean the choice with a majority/median filter. They accept any
number N >= 2 of sources; colour sources are fused with the gray decision applied to every channel.

* ``laplacian-argmax`` — the project's floor: per-pixel argmax of the locally summed squared
  Laplacian, then a median filter on the decision map. Deliberately plain.
* ``sf`` — Li, Kwok, Wang, "Combination of images with diverse focuses using the spatial
  frequency", Information Fusion 2(3), 2001: blocks, SF = sqrt(RF² + CF²), choose the larger SF when
  the difference exceeds a threshold (otherwise average), 3x3 majority filter on the block labels.
* ``sml`` / ``eol`` — focus measures of Nayar & Nakagawa (1994) and as evaluated for fusion by Huang
  & Jing, Pattern Recognit. Lett. 28, 2007: sum-modified-Laplacian and energy of the Laplacian,
  windowed, then choose-max and a majority filter (per pixel, or per block with ``block_size``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from mfif.baselines._common import (
    check_images,
    check_option,
    gray255,
    result_from_index,
)
from mfif.filters import local_sum
from mfif.registry import FusionResult, register_method

# ----------------------------------------------------------------------------------------------
# focus measures (gray, 0..255 scale, float64)
# ----------------------------------------------------------------------------------------------


def modified_laplacian(g: np.ndarray, *, step: int = 1, threshold: float = 0.0) -> np.ndarray:
    """Nayar's modified Laplacian ML = |2I − I(x−s) − I(x+s)| + |2I − I(y−s) − I(y+s)|.

    Symmetric padding; values below ``threshold`` are set to 0. Returns float64 H x W.
    """
    s = int(step)
    p = np.pad(np.asarray(g, np.float64), s, mode="symmetric")
    c = p[s:-s, s:-s]
    ml = np.abs(2 * c - p[: -2 * s, s:-s] - p[2 * s :, s:-s]) + np.abs(2 * c - p[s:-s, : -2 * s] - p[s:-s, 2 * s :])
    ml[ml < threshold] = 0.0
    return ml


_EOL_KERNEL = np.array([[-1, -4, -1], [-4, 20, -4], [-1, -4, -1]], np.float64)


def energy_of_laplacian_map(g: np.ndarray) -> np.ndarray:
    """(f_xx + f_yy)² per pixel with Huang & Jing's 3x3 kernel [[-1,-4,-1],[-4,20,-4],[-1,-4,-1]]."""
    lap = ndimage.correlate(np.asarray(g, np.float64), _EOL_KERNEL, mode="reflect")
    return lap * lap


def spatial_frequency(block: np.ndarray) -> float:
    """SF = sqrt(RF² + CF²) of one block; RF/CF = RMS of horizontal/vertical first differences."""
    b = np.asarray(block, np.float64)
    m, n = b.shape
    rf2 = np.sum(np.diff(b, axis=1) ** 2) / (m * n)
    cf2 = np.sum(np.diff(b, axis=0) ** 2) / (m * n)
    return float(np.sqrt(rf2 + cf2))


# ----------------------------------------------------------------------------------------------
# label clean-up for N sources
# ----------------------------------------------------------------------------------------------


def _mode_filter(labels: np.ndarray, n: int, size: int, *, undecided: int = -1) -> np.ndarray:
    """Replace a label by k where more than half of the ``size``² window (zero padded) has label k.

    Labels equal to ``undecided`` take part only as "no vote". With two labels and no undecided
    entries this is the 3x3 majority filter (same as a median filter on a binary map).
    """
    out = labels.copy()
    half = size * size / 2.0
    for k in range(n):
        votes = ndimage.uniform_filter((labels == k).astype(np.float64), size=size, mode="constant") * size * size
        out[votes > half + 1e-9] = k
    return out


def _block_labels(measure_blocks: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Winner per block and the set of near-winners (within ``threshold`` of the best)."""
    best = measure_blocks.max(axis=0)
    near = measure_blocks >= best[None] - threshold  # K x By x Bx
    lab = np.argmax(measure_blocks, axis=0).astype(np.int32)
    single = near.sum(axis=0) == 1
    lab[~single] = -1
    return lab, near


def _block_fuse(
    images: list[np.ndarray],
    block_measure: np.ndarray,
    block_size: int,
    threshold: float,
    majority: int,
) -> FusionResult:
    """Block choose-max with a threshold and majority filtering; ties within threshold are averaged."""
    k_n = len(images)
    h, w = images[0].shape[:2]
    lab, near = _block_labels(block_measure, threshold)
    if majority > 1:
        lab = _mode_filter(lab, k_n, majority)
    by, bx = lab.shape
    # per-block weights: one-hot for decided blocks, uniform over near-winners for the others
    weights = np.zeros((k_n, by, bx), np.float64)
    dec = lab >= 0
    for k in range(k_n):
        weights[k][dec] = (lab[dec] == k)
    und = ~dec
    if und.any():
        nw = near[:, und].astype(np.float64)
        weights[:, und] = nw / nw.sum(axis=0, keepdims=True)
    wpx = np.repeat(np.repeat(weights, block_size, axis=1), block_size, axis=2)[:, :h, :w]
    st = np.stack([np.asarray(im, np.float64) for im in images])
    wb = wpx[..., None] if st.ndim == 4 else wpx
    fused = np.clip((st * wb).sum(axis=0), 0, 1).astype(np.float32)
    fmap = wpx[0].astype(np.float32)
    res = FusionResult(fused=fused, extras={"block_labels": lab})
    if k_n == 2:
        res.focus_map = fmap
        res.decision_map = (fmap > 0.5).astype(np.float32)
    idx = np.argmax(wpx, axis=0).astype(np.int32)
    res.depth_map = idx
    return res


def _blockwise(measure: np.ndarray, block_size: int, reduce: str) -> np.ndarray:
    """Reduce an H x W map over non-overlapping blocks (edge blocks may be smaller)."""
    h, w = measure.shape
    by, bx = -(-h // block_size), -(-w // block_size)
    out = np.zeros((by, bx), np.float64)
    for i in range(by):
        for j in range(bx):
            blk = measure[i * block_size : (i + 1) * block_size, j * block_size : (j + 1) * block_size]
            out[i, j] = blk.sum() if reduce == "sum" else blk.mean()
    return out


def _pixel_fuse(images: list[np.ndarray], measures: list[np.ndarray], majority: int, **extras) -> FusionResult:
    stack = np.stack(measures)
    idx = np.argmax(stack, axis=0).astype(np.int32)
    if majority > 1:
        idx = _mode_filter(idx, len(images), majority)
    return result_from_index(images, idx, **extras)


# ----------------------------------------------------------------------------------------------
# methods
# ----------------------------------------------------------------------------------------------


@register_method(
    "laplacian-argmax",
    description="Per-pixel argmax of locally summed squared Laplacian + median filter (simple floor)",
    max_inputs=None,
    citation="project baseline (focus-measure argmax, cf. Nayar & Nakagawa 1994)",
)
def laplacian_argmax(
    images: Sequence[np.ndarray], *, window: int = 7, median_size: int = 7
) -> FusionResult:
    """The plain floor: argmax of Σ_window (∇²I)² per pixel, then a median filter on the decision.

    Steps: gray (0..255) → 4-neighbour Laplacian (scipy ``laplace``, reflect border) → square →
    sum over a ``window`` x ``window`` box → per-pixel argmax over sources → ``median_size`` median
    filter of the binary decision map (for N > 2 sources: the equivalent mode filter, a label wins a
    pixel when it holds more than half of the window). F copies the chosen source per pixel.

    Args:
        images: N >= 2 sources, all H x W or all H x W x 3, float32 [0, 1].
        window: Odd box size for summing the squared Laplacian (>= 1).
        median_size: Odd median-filter size for the decision map (1 = off).

    Returns:
        FusionResult with ``fused``, ``depth_map`` and for pairs ``decision_map``/``focus_map``.
    """
    imgs = check_images(images, method="laplacian-argmax")
    check_option("laplacian-argmax", "window", window, isinstance(window, int) and window >= 1 and window % 2 == 1, "an odd integer >= 1")
    check_option(
        "laplacian-argmax", "median_size", median_size,
        isinstance(median_size, int) and median_size >= 1 and median_size % 2 == 1, "an odd integer >= 1",
    )
    measures = [local_sum(ndimage.laplace(gray255(im), mode="reflect") ** 2, window) for im in imgs]
    idx = np.argmax(np.stack(measures), axis=0).astype(np.int32)
    if median_size > 1:
        if len(imgs) == 2:
            idx = ndimage.median_filter(idx, size=median_size, mode="reflect")
        else:
            idx = _mode_filter(idx, len(imgs), median_size)
    return result_from_index(imgs, idx)


@register_method(
    "sf",
    description="Spatial-frequency block selection with threshold and 3x3 majority filter (Li et al. 2001)",
    max_inputs=None,
    citation="S. Li, J.T. Kwok, Y. Wang, Information Fusion 2(3):169-176, 2001",
)
def sf_fuse(
    images: Sequence[np.ndarray], *, block_size: int = 32, threshold: float = 0.0, majority: int = 3
) -> FusionResult:
    """Spatial-frequency block fusion (Li, Kwok, Wang 2001).

    Tiles the gray image (0..255) into ``block_size`` blocks, SF = sqrt(RF² + CF²) per block, takes
    the block of the source with the largest SF when it leads by more than ``threshold`` and
    averages the sources within ``threshold`` of the best otherwise, then applies a
    ``majority`` x ``majority`` majority filter to the block labels.

    Args:
        images: N >= 2 sources, H x W or H x W x 3, float32 [0, 1].
        block_size: Block side in pixels (the paper explores 8–64; 32 is used here).
        threshold: SF difference (0..255 gray scale) below which blocks are averaged.
        majority: Window (in blocks) of the consistency filter; 1 disables it.

    Returns:
        FusionResult; for pairs ``focus_map`` is the per-pixel weight of the first source.
    """
    imgs = check_images(images, method="sf")
    check_option("sf", "block_size", block_size, isinstance(block_size, int) and block_size >= 2, "an integer >= 2")
    check_option("sf", "threshold", threshold, threshold >= 0, ">= 0")
    check_option("sf", "majority", majority, isinstance(majority, int) and majority >= 1 and majority % 2 == 1, "an odd integer >= 1")
    h, w = imgs[0].shape[:2]
    by, bx = -(-h // block_size), -(-w // block_size)
    meas = np.zeros((len(imgs), by, bx))
    for k, im in enumerate(imgs):
        g = gray255(im)
        for i in range(by):
            for j in range(bx):
                meas[k, i, j] = spatial_frequency(g[i * block_size : (i + 1) * block_size, j * block_size : (j + 1) * block_size])
    return _block_fuse(imgs, meas, block_size, float(threshold), majority)


def _measure_fuse(name, imgs, measures, block_size, majority) -> FusionResult:
    if block_size is None:
        return _pixel_fuse(imgs, measures, majority)
    blocks = np.stack([_blockwise(m, block_size, "sum") for m in measures])
    return _block_fuse(imgs, blocks, block_size, 0.0, majority)


def _check_common(name: str, window: int, block_size: int | None, majority: int) -> None:
    check_option(name, "window", window, isinstance(window, int) and window >= 1 and window % 2 == 1, "an odd integer >= 1")
    check_option(name, "block_size", block_size, block_size is None or (isinstance(block_size, int) and block_size >= 2), "None or an integer >= 2")
    check_option(name, "majority", majority, isinstance(majority, int) and majority >= 1 and majority % 2 == 1, "an odd integer >= 1")


@register_method(
    "sml",
    description="Sum-modified-Laplacian choose-max with majority filter (Nayar 1994; Huang & Jing 2007)",
    max_inputs=None,
    citation="S.K. Nayar, Y. Nakagawa, IEEE TPAMI 16(8), 1994; W. Huang, Z. Jing, Pattern Recognit. Lett. 28, 2007",
)
def sml_fuse(
    images: Sequence[np.ndarray],
    *,
    step: int = 1,
    threshold: float = 0.0,
    window: int = 5,
    block_size: int | None = None,
    majority: int = 3,
) -> FusionResult:
    """SML fusion: ML (step ``step``, values < ``threshold`` zeroed), summed over ``window``², choose-max.

    Args:
        images: N >= 2 sources, H x W or H x W x 3, float32 [0, 1].
        step: ML step (1 = neighbouring pixels).
        threshold: ML threshold T on the 0..255 gray scale.
        window: Odd summation window.
        block_size: None = per-pixel choice; an integer = choice per block of that size.
        majority: Odd majority-filter window (pixels or blocks); 1 disables it.
    """
    _check_common("sml", window, block_size, majority)
    check_option("sml", "step", step, isinstance(step, int) and step >= 1, "an integer >= 1")
    imgs = check_images(images, method="sml")
    measures = [local_sum(modified_laplacian(gray255(im), step=step, threshold=threshold), window) for im in imgs]
    return _measure_fuse("sml", imgs, measures, block_size, majority)


@register_method(
    "eol",
    description="Energy-of-Laplacian choose-max with majority filter (Huang & Jing 2007)",
    max_inputs=None,
    citation="W. Huang, Z. Jing, Pattern Recognit. Lett. 28:493-500, 2007",
)
def eol_fuse(
    images: Sequence[np.ndarray],
    *,
    window: int = 5,
    block_size: int | None = None,
    majority: int = 3,
) -> FusionResult:
    """EOL fusion: Σ_window (f_xx + f_yy)², choose-max, majority filter.

    Args:
        images: N >= 2 sources, H x W or H x W x 3, float32 [0, 1].
        window: Odd summation window.
        block_size: None = per-pixel choice; an integer = choice per block of that size.
        majority: Odd majority-filter window (pixels or blocks); 1 disables it.
    """
    _check_common("eol", window, block_size, majority)
    imgs = check_images(images, method="eol")
    measures = [local_sum(energy_of_laplacian_map(gray255(im)), window) for im in imgs]
    return _measure_fuse("eol", imgs, measures, block_size, majority)
