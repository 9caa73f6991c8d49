"""Seconds per pair of the lite default at each multi-scale inference setting (``scales``), as ratios
to the one pass at the image's own size, measured in the same run.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/scales_speed.py [--pair A B] [--size 520] [--repeats 9] [--threads 1]
        [--settings "1;1.25;1.4;1,0.7"]

``mfif.fuse`` end to end (shipped ``mfif-gan-lite`` weights, ``device="cpu"``: the numpy engine of the
CPU default; near-focus ordering, threshold, small-region removal and composition included) on one
pair: the two files given, or a seeded synthetic ``size``×``size`` RGB pair (left half sharp in A).
The settings are timed interleaved, ``repeats`` rounds after one warm-up round, so a changing machine
load hits all of them alike (``benchmarks/pair_methods_speed.py``, which this runs). Prints one
Markdown row per setting: median seconds and the ratio to the first setting.
"""

from __future__ import annotations

import argparse

from pair_methods_speed import add_pair_arguments, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_pair_arguments(ap)
    ap.add_argument("--settings", default="1;1.25;1.4;1,0.7", help="';'-separated scales settings")
    args = ap.parse_args()
    run(args, {s: ("mfif-gan-lite", {"scales": s}) for s in args.settings.split(";")}, "scales")


if __name__ == "__main__":
    main()
