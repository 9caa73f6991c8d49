"""Seconds per pair of the lite default at each multi-scale inference setting (``scales``), as ratios
to the one pass at the image's own size, measured in the same run.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/scales_speed.py [--pair A B] [--size 520] [--repeats 9] [--threads 1]
        [--settings "1;1.25;1.4;1,0.7"]

``mfif.fuse`` end to end (shipped ``mfif-gan-lite`` weights, ``device="cpu"``: the numpy engine of the
CPU default; near-focus ordering, threshold, small-region removal and composition included) on one
pair: the two files given, or a seeded synthetic ``size``×``size`` RGB pair (left half sharp in A).
The settings are timed interleaved, ``repeats`` rounds after one warm-up round, so a changing machine
load hits all of them alike. Prints one Markdown row per setting: median seconds and the ratio to the
first setting.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def synthetic_pair(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded ``size``×``size``×3 pair: noise texture, A sharp on the left half, B on the right."""
    import cv2

    rng = np.random.default_rng(0)
    sharp = cv2.GaussianBlur(rng.random((size, size, 3), dtype=np.float32), (0, 0), 0.8)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 2.0)
    left = (np.arange(size) < size // 2)[None, :, None]
    return np.where(left, sharp, blurred).astype(np.float32), np.where(left, blurred, sharp).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pair", nargs=2, metavar=("A", "B"), default=None)
    ap.add_argument("--size", type=int, default=520)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (BLAS: set OMP_NUM_THREADS)")
    ap.add_argument("--settings", default="1;1.25;1.4;1,0.7", help="';'-separated scales settings")
    args = ap.parse_args()
    import cv2

    import mfif
    from mfif.bench.runner import cpu_name
    from mfif.io import read_image

    cv2.setNumThreads(args.threads)
    if args.pair:
        a, _ = read_image(args.pair[0])
        b, _ = read_image(args.pair[1])
        what = f"{args.pair[0]} ({a.shape[1]}×{a.shape[0]})"
    else:
        a, b = synthetic_pair(args.size)
        what = f"synthetic {args.size}×{args.size}"
    settings = args.settings.split(";")
    times: dict[str, list[float]] = {s: [] for s in settings}
    for r in range(args.repeats + 1):
        for s in settings:
            t0 = time.perf_counter()
            mfif.fuse([a, b], method="mfif-gan-lite", device="cpu", scales=s)
            if r:  # round 0 warms up (weights loading, caches)
                times[s].append(time.perf_counter() - t0)
    base = float(np.median(times[settings[0]]))
    print(f"{what}, {cpu_name()}, OpenCV threads {args.threads}, median of {args.repeats}\n")
    print("| scales | s per pair (median) | ratio to scales " + settings[0] + " |")
    print("|---|---|---|")
    for s in settings:
        med = float(np.median(times[s]))
        print(f"| {s} | {med:.3f} | {med / base:.2f} |")


if __name__ == "__main__":
    main()
