"""Synthetic focus stacks with known ground truth (tests and stack-strategy measurements)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def synthetic_stack(
    n: int = 3,
    *,
    size: tuple[int, int] = (96, 96),
    blur_step: float = 1.5,
    regions: int = 6,
    color: bool = True,
    seed: int = 0,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """A synthetic focus stack with known ground truth (for tests and strategy measurements).

    The all-in-focus image is multi-scale filtered noise (a 1/f-like texture). The frame is split
    into ``regions`` Voronoi cells, each given a depth index in [0, n) (every index used when
    ``regions ≥ n``). Source k shows a cell of depth d blurred with a Gaussian of
    ``sigma = blur_step·|d − k|`` (conventional hard-boundary model), so source k is sharp exactly
    where the true depth map equals k.

    Args:
        n: Number of sources.
        size: (H, W).
        blur_step: Blur per depth step, in pixels.
        regions: Number of Voronoi cells.
        color: H×W×3 sources when True, else H×W.
        seed: Random seed.

    Returns:
        ``(sources, truth, depth)``: n float32 images, the all-in-focus float32 image and the int32
        H×W ground-truth depth map.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    shape = (h, w, 3) if color else (h, w)
    truth = np.zeros(shape, np.float64)
    for s, amp in ((0.6, 0.5), (1.5, 1.0), (4.0, 1.5), (10.0, 2.0)):
        noise = rng.standard_normal(shape)
        sig = (s, s, 0) if color else (s, s)
        f = ndimage.gaussian_filter(noise, sig)
        truth += amp * f / (f.std() + 1e-12)
    truth = (truth - truth.min()) / (truth.max() - truth.min())
    truth = truth.astype(np.float32)
    pts = rng.random((regions, 2)) * np.array([h, w])
    yy, xx = np.mgrid[0:h, 0:w]
    cell = np.argmin((yy[None] - pts[:, 0, None, None]) ** 2 + (xx[None] - pts[:, 1, None, None]) ** 2, axis=0)
    labels = np.concatenate([np.arange(n), rng.integers(0, n, max(0, regions - n))])[:regions]
    rng.shuffle(labels)
    depth = labels[cell].astype(np.int32)
    blurred: dict[int, np.ndarray] = {}
    sources = []
    for k in range(n):
        src = np.zeros(shape, np.float32)
        for d in range(n):
            step = abs(d - k)
            if step not in blurred:
                sig = blur_step * step
                blurred[step] = truth if step == 0 else ndimage.gaussian_filter(
                    truth, (sig, sig, 0) if color else (sig, sig), mode="reflect").astype(np.float32)
            sel = depth == d
            src[sel] = blurred[step][sel]
        sources.append(src)
    return sources, truth, depth
