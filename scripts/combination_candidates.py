#!/usr/bin/env python
"""``mfif bench`` (or ``scripts/known_truth.py``) with the learned/classical combinations of
docs/real-pairs.md §7 registered as methods, in one run.

Usage::

    python scripts/combination_candidates.py bench --out bench-out/r23/field \\
        --methods mfif-gan-lite,qt16,coarse0.5,quadtree --dataset lytro=../shared/data/inputs/lytro --no-fig6
    python scripts/combination_candidates.py known-truth --pack packs/mf-voc --out bench-out/r23/kt \\
        --settings own --limit 64 --variants mfif-gan-lite,qt8,qt16,coarse0.5,match,quadtree,laplacian-argmax

Candidates (pairs only, the shipped lite weights, hard composition, then the paper's small-region removal):

* ``qt8`` / ``qt16``: :func:`mfif.fusion.hybrid.quadtree_band_decision` with ``band`` 8 / 16 px —
  Quadtree's labels away from Quadtree's boundary, the network's decision near it (``qt8`` is the
  registered ``mfif-gan-lite-quadtree``);
* ``coarse0.5``: the network's map at half size (``scales=0.5``, cleaned) decides outside 8 px of its own
  boundary, the full-size map (cleaned) within; ``coarse0.5-b16`` / ``-b24`` / ``-b32``: 16 / 24 / 32 px;
* ``verify0.02`` / ``verify0.10``: the default's cleaned decision, with every connected region smaller than
  2 % / 10 % of the image flipped when Quadtree's raw (uncleaned) leaf labels are defined on at least
  half of it and more than half of those carry the other label; then the small-region removal;
* ``tfill`` (docs/real-pairs.md §8): the default's decision map, where the sources' mean luminance is
  weakly textured (local standard deviation < 0.02 in a 15×15 box), replaced by the decision of the
  textured pixels around (their Gaussian-weighted mean, σ 16 px, > 0.5; kept where none is near);
  then the small-region removal;
* ``match`` (known truth only; in the bench use ``scripts/bench_candidates.py`` with
  ``--candidate-options 'match={"match_exposure": true}'``): the lite default with ``match_exposure``.

Everything after the sub-command goes to ``mfif bench`` or ``scripts/known_truth.py`` unchanged.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any, Sequence

import numpy as np


def _qt(band: float):  # noqa: ANN202
    def fuse(images: Sequence[np.ndarray], **opts: Any):  # noqa: ANN202
        from mfif.fusion.methods import mfif_gan_lite
        from mfif.fusion.hybrid import quadtree_band_decision
        from mfif.fusion.pair import compose
        from mfif.registry import FusionResult

        a, b = images
        res = mfif_gan_lite(images, **opts)
        d = quadtree_band_decision(res.focus_map, a, b, band=band)
        return FusionResult(fused=compose(a, b, d), focus_map=res.focus_map, decision_map=d, extras=res.extras)

    return fuse


def _coarse(scale: float, band: float = 8):  # noqa: ANN202
    def fuse(images: Sequence[np.ndarray], **opts: Any):  # noqa: ANN202
        from mfif.fusion.methods import mfif_gan_lite
        from mfif.fusion.pair import compose
        from mfif.metrics.reference import boundary_band
        from mfif.postprocess.regions import remove_small_regions
        from mfif.registry import FusionResult

        a, b = images
        res = mfif_gan_lite(images, **opts)
        coarse = mfif_gan_lite(images, **{**opts, "scales": [scale]})
        fine = remove_small_regions(res.focus_map > 0.5)
        c = remove_small_regions(coarse.focus_map > 0.5)
        d = np.where(boundary_band(c.astype(np.float32), band), fine, c)
        d = remove_small_regions(d).astype(np.float32)
        return FusionResult(fused=compose(a, b, d), focus_map=res.focus_map, decision_map=d, extras=res.extras)

    return fuse


def _verified(area: float):  # noqa: ANN202
    def fuse(images: Sequence[np.ndarray], **opts: Any):  # noqa: ANN202
        from scipy import ndimage

        from mfif.baselines._common import gray255
        from mfif.baselines.quadtree import quadtree_labels, weighted_modified_laplacian
        from mfif.fusion.methods import mfif_gan_lite
        from mfif.fusion.pair import compose
        from mfif.postprocess.regions import remove_small_regions
        from mfif.registry import FusionResult

        a, b = images
        res = mfif_gan_lite(images, **opts)
        net = remove_small_regions(res.focus_map > 0.5)
        raw = quadtree_labels(np.stack([weighted_modified_laplacian(gray255(x)) for x in (a, b)]))
        d = net.copy()
        for value in (True, False):
            lab, n = ndimage.label(net == value)
            if n == 0:
                continue
            size = np.bincount(lab.ravel(), minlength=n + 1)
            defined = np.bincount(lab.ravel(), weights=(raw >= 0).ravel(), minlength=n + 1)
            other = np.bincount(lab.ravel(), weights=(raw == (1 if value else 0)).ravel(), minlength=n + 1)
            flip = (size < area * net.size) & (defined >= 0.5 * size) & (other > 0.5 * np.maximum(defined, 1))
            flip[0] = False
            d[flip[lab]] = not value
        d = remove_small_regions(d).astype(np.float32)
        return FusionResult(fused=compose(a, b, d), focus_map=res.focus_map, decision_map=d, extras=res.extras)

    return fuse


def _texture_fill(threshold: float = 0.02, window: int = 15, sigma: float = 16.0):  # noqa: ANN202
    def fuse(images: Sequence[np.ndarray], **opts: Any):  # noqa: ANN202
        import cv2

        from mfif.fusion.methods import mfif_gan_lite
        from mfif.fusion.pair import compose
        from mfif.postprocess.regions import remove_small_regions
        from mfif.registry import FusionResult

        a, b = images
        res = mfif_gan_lite(images, **opts)
        d = (res.decision_map > 0.5).astype(np.float32)
        g = ((a.mean(axis=2) if a.ndim == 3 else a) + (b.mean(axis=2) if b.ndim == 3 else b)).astype(np.float32) / 2
        mu = cv2.blur(g, (window, window))
        sd = np.sqrt(np.maximum(cv2.blur(g * g, (window, window)) - mu * mu, 0.0))
        w = (sd >= threshold).astype(np.float32)
        num = cv2.GaussianBlur(d * w, (0, 0), sigma)
        den = cv2.GaussianBlur(w, (0, 0), sigma)
        fill = num / np.maximum(den, 1e-6) > 0.5
        out = np.where((w > 0) | (den < 1e-3), d > 0.5, fill)
        out = remove_small_regions(out).astype(np.float32)
        return FusionResult(fused=compose(a, b, out), focus_map=res.focus_map, decision_map=out, extras=res.extras)

    return fuse


def register() -> None:
    from mfif.fusion.methods import LEARNED_OPTIONS
    from mfif.registry import register_method

    for name, fn, what in (("qt8", _qt(8), "Quadtree away from its boundary, network within 8 px"),
                           ("qt16", _qt(16), "Quadtree away from its boundary, network within 16 px"),
                           ("coarse0.5", _coarse(0.5), "half-size network map away from its boundary"),
                           ("coarse0.5-b16", _coarse(0.5, 16), "half-size network map, 16 px band"),
                           ("coarse0.5-b24", _coarse(0.5, 24), "half-size network map, 24 px band"),
                           ("coarse0.5-b32", _coarse(0.5, 32), "half-size network map, 32 px band"),
                           ("verify0.02", _verified(0.02), "network regions < 2 % flipped where raw Quadtree disagrees"),
                           ("verify0.10", _verified(0.10), "network regions < 10 % flipped where raw Quadtree disagrees"),
                           ("tfill", _texture_fill(), "weakly textured pixels take the textured neighbours' decision")):
        register_method(name, description=what, max_inputs=2, needs_weights=True, citation="docs/real-pairs.md §7",
                        options=LEARNED_OPTIONS)(fn)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("bench", "known-truth"):
        print("usage: combination_candidates.py {bench,known-truth} ARGS...", file=sys.stderr)
        return 2
    register()
    if argv[0] == "bench":
        from mfif.cli.main import main as mfif_main

        return mfif_main(argv)
    spec = importlib.util.spec_from_file_location("known_truth", "scripts/known_truth.py")
    kt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kt)
    for name in ("qt8", "qt16", "coarse0.5", "coarse0.5-b16", "coarse0.5-b24", "coarse0.5-b32",
                 "verify0.02", "verify0.10", "tfill"):
        kt.VARIANTS[name] = (name, {})
    kt.VARIANTS["match"] = ("mfif-gan-lite", {"match_exposure": True})
    kt.VARIANTS["quadtree"] = ("quadtree", {})
    return kt.main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
