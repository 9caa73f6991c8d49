"""Fusing stacks of N ≥ 2 sources with pair methods and with MFIF-GAN.

Two strategies extend a pair fusion to N sources (``stack_strategy`` option):

``"sequential"``
    F₁ = I₁, Fₖ = f(Fₖ₋₁, Iₖ): N − 1 pair fusions. The depth map follows the decisions: where step k
    picks the new source, the index becomes k, elsewhere it keeps the earlier index.
``"vote"``
    Every pair (i, j), i < j, is fused once; its hard decision map D (1 = i in focus) gives one vote
    to i where D = 1 and to j elsewhere, and its soft map S (when the method has one) adds
    ``1e-3·S`` / ``1e-3·(1 − S)`` to break ties. The depth map is the per-pixel argmax of the votes
    (remaining ties → lowest index), cleaned of regions smaller than ``min_region_ratio``·H·W, and
    the fused image copies the chosen source: N(N − 1)/2 pair fusions (a round-robin tournament).

The defaults were chosen by measurement on synthetic stacks with known ground truth
(docs/stacking.md §Strategy): :data:`DEFAULT_PAIR_STRATEGY` for registry pair methods,
:data:`DEFAULT_LEARNED_STRATEGY` for MFIF-GAN.

For methods that blend without a decision map, the depth map is a best effort: the soft map of a
step is derived from how close the fused image is to each source (:func:`map_from_fused`).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Callable, Sequence

import numpy as np
from scipy import ndimage

from mfif.errors import MfifError
from mfif.options import ComposeOptions, InferenceOptions, refuse_pair_only, resolve_options
from mfif.registry import FusionResult

STRATEGIES = ("sequential", "vote")
#: Stack strategy for registry pair methods (measured, docs/stacking.md).
DEFAULT_PAIR_STRATEGY = "vote"
#: Stack strategy for MFIF-GAN (measured, docs/stacking.md §Strategy and §Deep stacks: benchmark —
#: chosen on the select half of `mfif bench stacks`, N = 5, 12, 30).
DEFAULT_LEARNED_STRATEGY = "vote"


def _check(images: Sequence[np.ndarray], strategy: str) -> list[np.ndarray]:
    imgs = [np.asarray(im, dtype=np.float32) for im in images]
    if len(imgs) < 2:
        raise MfifError("fusion needs at least two source images")
    shape = imgs[0].shape
    for i, im in enumerate(imgs[1:], start=2):
        if im.shape != shape:
            raise MfifError(f"image {i}: shape {im.shape} differs from image 1 {shape} (use --align to register them)")
    if strategy not in STRATEGIES:
        raise MfifError(f"stack_strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    return imgs


def select(images: Sequence[np.ndarray], depth: np.ndarray) -> np.ndarray:
    """Copy source ``depth[y, x]`` at every pixel.

    Args:
        images: N sources, same shape H×W or H×W×3.
        depth: int H×W, values in [0, N).

    Returns:
        float32 array of the sources' shape.
    """
    out = np.array(images[0], dtype=np.float32, copy=True)
    for k in range(1, len(images)):
        sel = depth == k
        if sel.any():
            out[sel] = images[k][sel]
    return out


def map_from_fused(a: np.ndarray, b: np.ndarray, fused: np.ndarray, *, sigma: float = 2.0) -> np.ndarray:
    """Soft map (1 = ``a``) of how much a blended ``fused`` follows ``a`` rather than ``b``.

    ``M = Db / (Da + Db)`` with ``Dx`` the Gaussian-smoothed (``sigma``) absolute difference between
    ``fused`` and ``x`` (summed over channels); 0.5 where both are equally close.

    Returns:
        float32 H×W in [0, 1].
    """
    da = np.abs(fused - a)
    db = np.abs(fused - b)
    if da.ndim == 3:
        da, db = da.sum(axis=2), db.sum(axis=2)
    da = ndimage.gaussian_filter(da, sigma)
    db = ndimage.gaussian_filter(db, sigma)
    den = da + db
    m = np.where(den > 1e-12, db / np.maximum(den, 1e-12), 0.5)
    return m.astype(np.float32)


def _pair_map(res: FusionResult, a: np.ndarray, b: np.ndarray, *, soft: bool) -> np.ndarray:
    """The map of a pair result (1 = a): soft focus map, else decision map, else derived from fused."""
    if soft and res.focus_map is not None:
        return np.asarray(res.focus_map, np.float32)
    if res.decision_map is not None:
        return np.asarray(res.decision_map, np.float32)
    if res.focus_map is not None:
        return np.asarray(res.focus_map, np.float32)
    return map_from_fused(a, b, res.fused)


def clean_depth_map(depth: np.ndarray, *, ratio: float = 0.001, connectivity: int = 1) -> np.ndarray:
    """Small-region removal for an index map (the paper's rule generalised to N labels).

    Connected regions of one index smaller than ``ratio·H·W`` pixels take the index of the nearest
    pixel outside every small region.

    Args:
        depth: int H×W index map.
        ratio: Area threshold as a fraction of H·W (0 disables).
        connectivity: 1 = 4-neighbour, 2 = 8-neighbour.

    Returns:
        int32 H×W.
    """
    from skimage.measure import label

    d = np.asarray(depth, np.int32)
    size = ratio * d.shape[0] * d.shape[1]
    if size <= 1:
        return d
    lab = label(d + 1, background=0, connectivity=connectivity)
    counts = np.bincount(lab.ravel())
    small = counts < size
    small[0] = False
    bad = small[lab]
    del lab
    if not bad.any() or bad.all():
        return d
    idx = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return d[idx[0], idx[1]].astype(np.int32)


def _vote(score: np.ndarray, i: int, j: int, hard: np.ndarray, soft: np.ndarray | None) -> None:
    """Add pair (i, j)'s votes: 1 per pixel from the hard map, 1e-3 × the soft map as a tie-break."""
    h = (np.asarray(hard) > 0.5).astype(np.float32)
    s = h if soft is None else np.asarray(soft, np.float32)
    score[i] += h + 1e-3 * s
    score[j] += (1.0 - h) + 1e-3 * (1.0 - s)


def _ticker(progress: Callable[[int, int], None] | None, total: int) -> Callable[[], None]:
    """A no-argument callable that reports one more finished step of ``total`` to ``progress``."""
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    return tick


def _result(images: list[np.ndarray], fused: np.ndarray, depth: np.ndarray, **extras: Any) -> FusionResult:
    first = (depth == 0).astype(np.float32)
    return FusionResult(fused=fused, focus_map=None, decision_map=first, depth_map=depth.astype(np.int32),
                        extras=dict(extras))


def fuse_stack_pairwise(
    fn: Callable[..., FusionResult],
    images: Sequence[np.ndarray],
    *,
    stack_strategy: str | None = None,
    stack_min_region_ratio: float = 0.001,
    progress: Callable[[int, int], None] | None = None,
    **opts: Any,
) -> FusionResult:
    """Extend a pair fusion method to N sources.

    Args:
        fn: Registry function ``fn([a, b], **opts) -> FusionResult`` of a pair method.
        images: N ≥ 2 harmonised sources, float32 [0, 1], all H×W or all H×W×3.
        stack_strategy: ``"sequential"`` or ``"vote"`` (module docstring); None =
            :data:`DEFAULT_PAIR_STRATEGY`.
        stack_min_region_ratio: ``vote`` only: small-region threshold of the depth map (fraction of
            H·W; 0 disables).
        progress: Called as ``progress(done, total)`` after each pair fusion.
        **opts: Passed to ``fn`` at every step.

    Returns:
        FusionResult: ``fused``, ``depth_map`` (int32 H×W source index), ``decision_map`` = 1 where the
        first source was chosen. For N = 2 the pair result itself, with ``depth_map`` added.
    """
    strategy = stack_strategy or DEFAULT_PAIR_STRATEGY
    imgs = _check(images, strategy)
    n = len(imgs)
    if n == 2:
        res = fn(imgs, **opts)
        m = _pair_map(res, imgs[0], imgs[1], soft=False)
        res.depth_map = np.where(m > 0.5, 0, 1).astype(np.int32)
        return res
    tick = _ticker(progress, n - 1 if strategy == "sequential" else n * (n - 1) // 2)
    if strategy == "sequential":
        res = fn(imgs[:2], **opts)
        tick()
        depth = np.where(_pair_map(res, imgs[0], imgs[1], soft=False) > 0.5, 0, 1).astype(np.int32)
        for k in range(2, n):
            prev = res.fused
            res = fn([prev, imgs[k]], **opts)
            tick()
            keep = _pair_map(res, prev, imgs[k], soft=False) > 0.5
            depth = np.where(keep, depth, k).astype(np.int32)
        return _result(imgs, res.fused, depth, stack_strategy=strategy, pair_fusions=n - 1)
    score = np.zeros((n,) + imgs[0].shape[:2], np.float32)
    for i, j in combinations(range(n), 2):
        res = fn([imgs[i], imgs[j]], **opts)
        tick()
        _vote(score, i, j, _pair_map(res, imgs[i], imgs[j], soft=False), res.focus_map)
    depth = np.argmax(score, axis=0).astype(np.int32)
    del score
    depth = clean_depth_map(depth, ratio=stack_min_region_ratio)
    return _result(imgs, select(imgs, depth), depth, stack_strategy=strategy, pair_fusions=n * (n - 1) // 2)


def fuse_stack_learned(
    model: Any,
    images: Sequence[np.ndarray],
    *,
    stack_strategy: str | None = None,
    inference: InferenceOptions | None = None,
    compose_options: ComposeOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> FusionResult:
    """MFIF-GAN for N ≥ 2 sources.

    Args:
        model: Generator in eval mode.
        images: N ≥ 2 harmonised sources, float32 [0, 1], all H×W or all H×W×3.
        stack_strategy: ``"sequential"`` (each step is the paper's pair pipeline on the running fused
            image and the next source) or ``"vote"`` (maps of all pairs → per-pixel argmax →
            small-region removal with ``min_region_ratio``); None = :data:`DEFAULT_LEARNED_STRATEGY`.
            ``vote`` uses each pair's post-processed decision map as its votes and the soft map to
            break ties.
        inference, compose_options: The declared options (:mod:`mfif.options`), or give them as flat
            keywords. Composition options that need a pair (soft, soft_boundary, edge_guide,
            spread_correction) apply to N = 2 only, since a stack selects one source per pixel.
        progress: Called as ``progress(done, total)`` after each pair (network) pass.

    Returns:
        FusionResult with ``fused``, ``depth_map`` (int32 H×W) and ``decision_map`` (1 where the first
        source was chosen); for N = 2 the pair result with ``depth_map`` added.

    Raises:
        MfifError: unknown options, pair-only options for N > 2, bad strategy, or sources of different shapes.
    """
    from mfif.fusion.pair import fuse_pair, predict_focus_map
    from mfif.postprocess import postprocess_map

    inf, comp = resolve_options(options, inference=inference, compose=compose_options)
    strategy = stack_strategy or DEFAULT_LEARNED_STRATEGY
    imgs = _check(images, strategy)
    n = len(imgs)
    refuse_pair_only(comp.pair_only, n)
    tick = _ticker(progress, n - 1 if n == 2 or strategy == "sequential" else n * (n - 1) // 2)
    if n == 2 or strategy == "sequential":
        res = fuse_pair(model, imgs[0], imgs[1], inference=inf, compose_options=comp)
        tick()
        depth = np.where(res.decision_map > 0.5, 0, 1).astype(np.int32)
        if n == 2:
            res.depth_map = depth
            return res
        for k in range(2, n):
            res = fuse_pair(model, res.fused, imgs[k], inference=inf, compose_options=comp)
            tick()
            depth = np.where(res.decision_map > 0.5, depth, k).astype(np.int32)
        # Every step's decision map is binary, so the chain's fused image is exactly this selection.
        return _result(imgs, select(imgs, depth), depth, stack_strategy=strategy, pair_fusions=n - 1)
    score = np.zeros((n,) + imgs[0].shape[:2], np.float32)
    for i, j in combinations(range(n), 2):
        soft = predict_focus_map(model, imgs[i], imgs[j], inference=inf)
        tick()
        hard = postprocess_map(soft, threshold=comp.threshold, ratio=comp.min_region_ratio,
                               connectivity=comp.connectivity, enabled=comp.postprocess)
        _vote(score, i, j, hard, soft)
    depth = np.argmax(score, axis=0).astype(np.int32)
    del score
    if comp.postprocess:
        depth = clean_depth_map(depth, ratio=comp.min_region_ratio, connectivity=comp.connectivity)
    return _result(imgs, select(imgs, depth), depth, stack_strategy=strategy, pair_fusions=n * (n - 1) // 2)
