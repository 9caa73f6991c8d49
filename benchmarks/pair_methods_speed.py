"""Seconds per pair of registry methods (and option settings), as ratios to the first, in one run.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/pair_methods_speed.py --pair A B [--repeats 9] [--threads 1] \\
        [--methods "mfif-gan-lite;mfif-gan-lite match_exposure=true;mfif-gan-lite-quadtree;quadtree"]

``mfif.fuse`` end to end on one pair (the two files given, or a seeded synthetic ``size``×``size`` RGB
pair, left half sharp in A), ``device="cpu"`` for the learned methods: near-focus ordering, threshold,
post-processing and composition included. Each setting is a method name followed by ``key=value``
options (values parsed as JSON, else kept as text). The settings are timed interleaved, ``repeats``
rounds after one warm-up round, so a changing machine load hits all of them alike. Prints one
Markdown row per setting: median seconds and the ratio to the first setting.
(``benchmarks/scales_speed.py`` is the same run for the lite default's ``scales`` settings.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np


def synthetic_pair(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded ``size``×``size``×3 pair: noise texture, A sharp on the left half, B on the right."""
    import cv2

    rng = np.random.default_rng(0)
    sharp = cv2.GaussianBlur(rng.random((size, size, 3), dtype=np.float32), (0, 0), 0.8)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 2.0)
    left = (np.arange(size) < size // 2)[None, :, None]
    return np.where(left, sharp, blurred).astype(np.float32), np.where(left, blurred, sharp).astype(np.float32)


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


def add_pair_arguments(ap: argparse.ArgumentParser) -> None:
    """The options every pair-speed run shares: the pair, its size, repeats and OpenCV threads."""
    ap.add_argument("--pair", nargs=2, metavar=("A", "B"), default=None)
    ap.add_argument("--size", type=int, default=520)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (BLAS: set OMP_NUM_THREADS)")


def run(args: argparse.Namespace, settings: dict[str, tuple[str, dict[str, Any]]], label: str) -> None:
    """Time ``settings`` (row label → (method, options)) interleaved on the pair of ``args`` and print
    the Markdown table, the first column headed ``label``."""
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
        a, b = synthetic_pair(args.size)
        what = f"synthetic {args.size}×{args.size}"
    from mfif.errors import MfifError

    for name, opts in settings.values():
        try:
            info = get_method(name)
        except MfifError as e:
            print(f"pair_methods_speed: error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        if info.needs_weights:
            opts.setdefault("device", "cpu")
    times: dict[str, list[float]] = {s: [] for s in settings}
    for r in range(args.repeats + 1):
        for s, (name, opts) in settings.items():
            t0 = time.perf_counter()
            mfif.fuse([a, b], method=name, **opts)
            if r:  # round 0 warms up (weights loading, caches)
                times[s].append(time.perf_counter() - t0)
    first = next(iter(settings))
    base = float(np.median(times[first]))
    print(f"{what}, {cpu_name()}, OpenCV threads {args.threads}, median of {args.repeats}\n")
    print(f"| {label} | s per pair (median) | ratio to {label} {first} |")
    print("|---|---|---|")
    for s in settings:
        med = float(np.median(times[s]))
        print(f"| {s} | {med:.3f} | {med / base:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_pair_arguments(ap)
    ap.add_argument("--methods", default="mfif-gan-lite;mfif-gan-lite match_exposure=true;mfif-gan-lite-quadtree;quadtree",
                    help="';'-separated settings: a method name, then key=value options")
    args = ap.parse_args()
    settings = [s.strip() for s in args.methods.split(";") if s.strip()]
    run(args, {s: parse_setting(s) for s in settings}, "setting")


if __name__ == "__main__":
    main()
