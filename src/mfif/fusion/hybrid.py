"""A learned/classical combination for pairs, and the ten-line classical fuser it borrows from.

* ``laplacian-energy-15`` — per-pixel argmax of the squared Laplacian summed over a 15×15 window,
  then an 11×11 median filter of the decision (``laplacian-argmax`` with ``window=15, median_size=11``).
* :func:`hybrid_decision` — the decision of ``mfif-gan-lite-hybrid``: the network's decision where the
  classical focus measure is not decisive, the classical decision where it is (the log-ratio of the two
  sources' Laplacian energies exceeds :data:`GATE`, chosen on the Lytro pairs), then the paper's
  small-region removal. The classical measure is decisive only where there is texture. The
  reference-free metrics reward its boundary placement there, while the known truth at the focus
  boundary does not (docs/real-pairs.md).

* :func:`quadtree_band_decision` — the decision of ``mfif-gan-lite-quadtree``: Quadtree's cleaned
  labels (:func:`mfif.baselines.quadtree.quadtree_fuse`) away from Quadtree's own boundary, the network's
  decision within :data:`QT_BAND` px of it and where Quadtree leaves a pixel undefined. On the real
  pairs it ranks first on every set; at the known truth of the synthetic pairs it loses 4.4 dB in the
  boundary band (docs/real-pairs.md §7), so it is an option, not the default.

Swapping the sources negates the log-ratio and complements the network's map, so the combination is
symmetric in the sources as the network's map is.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from mfif.baselines._common import gray255
from mfif.baselines.focus_measures import laplacian_argmax
from mfif.filters import local_sum
from mfif.metrics.reference import boundary_band
from mfif.postprocess.regions import remove_small_regions
from mfif.registry import FusionResult, register_method

#: Window (px) over which the squared Laplacian is summed.
WINDOW = 15
#: Median-filter size (px) of the classical decision.
MEDIAN = 11
#: |log((E_A + 1) / (E_B + 1))| above which the classical decision replaces the network's.
GATE = 3.0
#: Within this distance (px) of the network's boundary the network's decision is kept (0 = nowhere).
PROTECT = 0
#: ``mfif-gan-lite-quadtree``: within this distance (px) of Quadtree's boundary the network decides.
QT_BAND = 8


def laplacian_energy_log_ratio(a: np.ndarray, b: np.ndarray, *, window: int = WINDOW) -> np.ndarray:
    """``log((E_A + 1) / (E_B + 1))`` with ``E = Σ_window (∇²I)²`` on the gray image (0..255 scale).

    Args:
        a, b: Sources, float32 [0, 1], H×W or H×W×3.
        window: Odd box size of the sum.

    Returns:
        float64 H×W; > 0 where A has more Laplacian energy.
    """
    ea = local_sum(ndimage.laplace(gray255(a), mode="reflect") ** 2, window)
    eb = local_sum(ndimage.laplace(gray255(b), mode="reflect") ** 2, window)
    return np.log((ea + 1.0) / (eb + 1.0))


def classical_decision(log_ratio: np.ndarray, *, median: int = MEDIAN) -> np.ndarray:
    """The ten-line fuser's decision from :func:`laplacian_energy_log_ratio`: bool H×W, True = A."""
    d = (log_ratio > 0).astype(np.uint8)
    if median > 1:
        d = ndimage.median_filter(d, size=median, mode="reflect")
    return d.astype(bool)


def hybrid_decision(
    focus_map: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    gate: float = GATE,
    protect: int = PROTECT,
    window: int = WINDOW,
    median: int = MEDIAN,
    threshold: float = 0.5,
    ratio: float = 0.001,
    connectivity: int = 1,
) -> np.ndarray:
    """Network decision where the classical measure is not decisive, classical decision where it is.

    Args:
        focus_map: The network's soft map, float32 H×W in [0, 1] (1 = A in focus).
        a, b: Sources, float32 [0, 1], H×W or H×W×3 (same shape).
        gate: |log-ratio| of the Laplacian energies above which the classical decision is taken.
        protect: Within this many px of the (small-region-cleaned) network decision's boundary the
            network's decision is kept whatever the classical measure says (0 = off).
        window, median: The classical measure's window and its decision's median filter (odd px).
        threshold: The network map's threshold.
        ratio, connectivity: The paper's small-region removal applied to the combination.

    Returns:
        float32 H×W in {0, 1}, 1 = A.
    """
    lr = laplacian_energy_log_ratio(a, b, window=window)
    net = np.asarray(focus_map) > threshold
    take = np.abs(lr) > gate
    if protect > 0:
        take &= ~boundary_band(remove_small_regions(net, ratio=ratio, connectivity=connectivity).astype(np.float32), protect)
    d = np.where(take, classical_decision(lr, median=median), net)
    return remove_small_regions(d, ratio=ratio, connectivity=connectivity).astype(np.float32)


def quadtree_band_decision(
    focus_map: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    band: float = QT_BAND,
    threshold: float = 0.5,
    ratio: float = 0.001,
    connectivity: int = 1,
) -> np.ndarray:
    """Quadtree's decision away from its boundary, the network's decision near it.

    Args:
        focus_map: The network's soft map, float32 H×W in [0, 1] (1 = A in focus).
        a, b: Sources, float32 [0, 1], H×W or H×W×3 (same shape).
        band: Within this distance (px, :func:`mfif.metrics.reference.boundary_band`) of the boundary of
            Quadtree's label-A region the network's decision is taken; 0 = Quadtree's labels wherever
            they are defined.
        threshold: The network map's threshold.
        ratio, connectivity: The paper's small-region removal applied to the combination.

    Returns:
        float32 H×W in {0, 1}, 1 = A. Pixels Quadtree leaves undefined take the network's decision.
    """
    from mfif.baselines.quadtree import quadtree_fuse  # the classical baselines: only when used

    labels = quadtree_fuse([a, b]).extras["labels"]
    qa = labels == 0
    take = labels >= 0
    if band > 0:
        take &= ~boundary_band(qa.astype(np.float32), band)
    d = np.where(take, qa, np.asarray(focus_map) > threshold)
    return remove_small_regions(d, ratio=ratio, connectivity=connectivity).astype(np.float32)


@register_method(
    "laplacian-energy-15",
    description="Per-pixel argmax of the squared Laplacian summed over 15x15 + 11x11 median of the decision "
    "(a ten-line classical fuser)",
    max_inputs=None,
    citation="project baseline (focus-measure argmax, cf. Nayar & Nakagawa 1994)",
)
def laplacian_energy_15(images: Sequence[np.ndarray], *, window: int = WINDOW, median_size: int = MEDIAN) -> FusionResult:
    """``laplacian-argmax`` with a 15×15 window and an 11×11 median (see module docstring).

    Args:
        images: N >= 2 sources, all H×W or all H×W×3, float32 [0, 1].
        window: Odd box size for summing the squared Laplacian.
        median_size: Odd median-filter size of the decision map (1 = off).

    Returns:
        FusionResult as :func:`mfif.baselines.focus_measures.laplacian_argmax`.
    """
    return laplacian_argmax(images, window=window, median_size=median_size)
