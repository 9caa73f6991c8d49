#!/usr/bin/env python
"""Where two methods' decision maps disagree on real pairs: in weakly textured regions or in textured ones.

Usage::

    python scripts/texture_disagreement.py ../shared/data/inputs [--sets lytro,mffw,grayscale]
        [--methods mfif-gan-lite,quadtree] [--window 15] [--threshold 0.02]

For every pair of each set (Lytro/MFFW: ``*_A.*`` with ``*_B.*``; grayscale: ``NAME1.bmp`` with
``NAME2.bmp``) both methods fuse through ``mfif.fuse`` (their default options) and their decision maps
are compared. A pixel is weakly textured when the local standard deviation of the mean luminance of the
two sources, over a ``window``² box, is below ``threshold`` (of the [0, 1] range). Prints per set the
share of weakly textured pixels and the share of pixels where the maps disagree, within and outside
those regions (means over the pairs). No ground truth is involved: a disagreement says the two
methods decide differently there, not which one is right.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np


def pairs(root: Path, name: str) -> list[tuple[Path, Path]]:
    files = sorted((root / name).iterdir())
    if name == "grayscale":
        return [(f, f.with_name(f.name[:-5] + "2.bmp")) for f in files if f.name.endswith("1.bmp")]
    return [(f, f.with_name(f.name.replace("_A.", "_B."))) for f in files if "_A." in f.name]


def main() -> int:
    import cv2

    import mfif
    from mfif.io import read_image

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", type=Path, help="folder holding the sets (../shared/data/inputs)")
    ap.add_argument("--sets", default="lytro,mffw,grayscale")
    ap.add_argument("--methods", default="mfif-gan-lite,quadtree")
    ap.add_argument("--window", type=int, default=15)
    ap.add_argument("--threshold", type=float, default=0.02)
    args = ap.parse_args()
    missing = [n for n in args.sets.split(",") if not (args.inputs / n).is_dir()]
    if missing:
        ap.error(f"{args.inputs / missing[0]}: no such folder")
    if len(args.methods.split(",")) != 2:
        ap.error(f"--methods: expected two methods, got {args.methods!r}")
    m1, m2 = args.methods.split(",")
    print(f"| set | pairs | weakly textured share | disagreement {m1} / {m2}: weakly textured | textured |")
    print("|---|---|---|---|---|")
    for name in args.sets.split(","):
        share, low_d, high_d = [], [], []
        for fa, fb in pairs(args.inputs, name):
            if not os.path.exists(fb):
                continue
            a, b = read_image(fa)[0], read_image(fb)[0]
            g = ((a.mean(2) if a.ndim == 3 else a) + (b.mean(2) if b.ndim == 3 else b)).astype(np.float32) / 2
            d1 = mfif.fuse([a, b], method=m1).decision_map > 0.5
            d2 = mfif.fuse([a, b], method=m2).decision_map > 0.5
            mu = cv2.blur(g, (args.window, args.window))
            sd = np.sqrt(np.maximum(cv2.blur(g * g, (args.window, args.window)) - mu * mu, 0.0))
            low, diff = sd < args.threshold, d1 != d2
            share.append(low.mean())
            if low.any():
                low_d.append(diff[low].mean())
            if (~low).any():
                high_d.append(diff[~low].mean())
        print(f"| {name} | {len(share)} | {np.mean(share):.2f} | {np.mean(low_d):.3f} | {np.mean(high_d):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
