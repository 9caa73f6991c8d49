#!/usr/bin/env python
"""Accuracy and time of the near-focus source decision (mfif.fusion.order) on synthetic α-matte pairs.

Usage::

    python scripts/near_source_eval.py --images ../shared/data/train/mf-voc/groundtruth [--n 60] [--size 256]

Pairs: ``--n`` images drawn (seed 0) from ``--images``, a random square crop of ``--size`` px, a seeded
blob mask (``mfif.bench.synthetic._blob_mask``) and σ uniform in [0.5, 2] (``alpha_matte_pair``: A is
the near source). Each pair is scored in both orders; reported: the share of right decisions with the
true mask, the classical map and the lite network's map, and the time per decision on a 520² pair.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="folder of all-in-focus images")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()

    import mfif
    from mfif.bench.synthetic import _blob_mask
    from mfif.data.synthesis import alpha_matte_pair
    from mfif.fusion.order import near_source
    from mfif.io import read_image, to_rgb

    files = sorted(p for p in Path(args.images).iterdir() if p.suffix.lower() in (".jpg", ".png"))
    rng = np.random.default_rng(0)
    right = {"truth": 0, "classical": 0, "lite": 0}
    total = 0
    for f in rng.choice(files, args.n, replace=False):
        img = to_rgb(read_image(f)[0])
        h, w = img.shape[:2]
        s = min(h, w, args.size)
        y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
        img = img[y : y + s, x : x + s]
        m = _blob_mask(img.shape[:2], rng)
        a, b = alpha_matte_pair(img, m, sigma=float(rng.uniform(0.5, 2.0)))
        fm = mfif.fuse([a, b], method="mfif-gan-lite", device="cpu").focus_map
        for first, second, near, mm, ff in ((a, b, "a", m, fm), (b, a, "b", 1 - m, None)):
            total += 1
            right["truth"] += near_source(first, second, mm) == near
            right["classical"] += near_source(first, second) == near
            if ff is None:
                ff = mfif.fuse([first, second], method="mfif-gan-lite", device="cpu").focus_map
            right["lite"] += near_source(first, second, ff) == near
    print(f"{total} decisions ({args.n} pairs x 2 orders), share right:")
    for k, v in right.items():
        print(f"  map = {k:9s} {v / total:.3f}")
    big = np.random.default_rng(1).random((520, 520, 3)).astype(np.float32)
    big2 = np.random.default_rng(2).random((520, 520, 3)).astype(np.float32)
    t = time.perf_counter()
    for _ in range(3):
        near_source(big, big2)
    print(f"time per decision, 520x520 RGB, classical map: {(time.perf_counter() - t) / 3 * 1000:.0f} ms")


if __name__ == "__main__":
    main()
