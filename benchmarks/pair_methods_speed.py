"""Seconds per pair of registry methods (and option settings), as ratios to the first, in one run.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/pair_methods_speed.py --pair A B [--repeats 9] [--threads 1] \\
        [--methods "mfif-gan-lite;mfif-gan-lite match_exposure=true;mfif-gan-lite-quadtree;quadtree"]

``mfif.fuse`` end to end on one pair (the two files given, or the seeded synthetic pair of
``benchmarks/scales_speed.py``), ``device="cpu"`` for the learned methods: near-focus ordering,
threshold, post-processing and composition included. Each setting is a method name followed by
``key=value`` options (values parsed as JSON, else kept as text). The settings are timed interleaved,
``repeats`` rounds after one warm-up round, so a changing machine load hits all of them alike. Prints
one Markdown row per setting: median seconds and the ratio to the first setting.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np


def parse_setting(text: str) -> tuple[str, dict[str, Any]]:
    """``"method k=v k2=v2"`` → ``(method, {k: v, ...})``."""
    name, *kvs = text.split()
    opts: dict[str, Any] = {}
    for kv in kvs:
        k, _, v = kv.partition("=")
        try:
            opts[k] = json.loads(v)
        except json.JSONDecodeError:
            opts[k] = v
    return name, opts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pair", nargs=2, metavar=("A", "B"), default=None)
    ap.add_argument("--size", type=int, default=520)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (BLAS: set OMP_NUM_THREADS)")
    ap.add_argument("--methods", default="mfif-gan-lite;mfif-gan-lite match_exposure=true;mfif-gan-lite-quadtree;quadtree",
                    help="';'-separated settings: a method name, then key=value options")
    args = ap.parse_args()
    import cv2

    import mfif
    from mfif.bench.runner import cpu_name
    from mfif.io import read_image
    from mfif.registry import get_method

    cv2.setNumThreads(args.threads)
    if args.pair:
        a, _ = read_image(args.pair[0])
        b, _ = read_image(args.pair[1])
        what = f"{args.pair[0]} ({a.shape[1]}×{a.shape[0]})"
    else:
        from scales_speed import synthetic_pair  # the same seeded pair

        a, b = synthetic_pair(args.size)
        what = f"synthetic {args.size}×{args.size}"
    settings = [s.strip() for s in args.methods.split(";") if s.strip()]
    parsed = {s: parse_setting(s) for s in settings}
    for name, opts in parsed.values():
        if get_method(name).needs_weights:
            opts.setdefault("device", "cpu")
    times: dict[str, list[float]] = {s: [] for s in settings}
    for r in range(args.repeats + 1):
        for s in settings:
            name, opts = parsed[s]
            t0 = time.perf_counter()
            mfif.fuse([a, b], method=name, **opts)
            if r:  # round 0 warms up (weights loading, caches)
                times[s].append(time.perf_counter() - t0)
    base = float(np.median(times[settings[0]]))
    print(f"{what}, {cpu_name()}, OpenCV threads {args.threads}, median of {args.repeats}\n")
    print(f"| setting | s per pair (median) | ratio to {settings[0]} |")
    print("|---|---|---|")
    for s in settings:
        med = float(np.median(times[s]))
        print(f"| {s} | {med:.3f} | {med / base:.2f} |")


if __name__ == "__main__":
    main()
