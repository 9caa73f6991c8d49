"""Stack strategy with the trained lite network: sequential vs vote on synthetic stacks with truth.

Usage:
    python scripts/stack_strategy_lite.py WEIGHTS.safetensors

Prints, per stack size N and blur step, the PSNR (dB, against the all-in-focus truth) and the
depth-index accuracy of each strategy, means over three seeded 128x128 stacks.
"""

from __future__ import annotations

import argparse

import numpy as np

from mfif.data.stacks import synthetic_stack
from mfif.metrics.reference import psnr
from mfif.registry import get_method


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", help="lite weights (.safetensors)")
    args = ap.parse_args(argv)
    fn = get_method("mfif-gan-lite").fn
    print("N blur strategy  PSNR  depth-acc")
    for n in (3, 5):
        for blur in (1.0, 2.0):
            for strat in ("sequential", "vote"):
                r = []
                for seed in range(3):
                    srcs, truth, depth = synthetic_stack(n, size=(128, 128), blur_step=blur, regions=2 * n,
                                                         seed=100 * n + seed)
                    res = fn(srcs, weights=args.weights, device="cpu", stack_strategy=strat)
                    r.append((psnr(res.fused, truth), (res.depth_map == depth).mean()))
                a = np.array(r)
                print(n, blur, strat, f"{a[:, 0].mean():.2f}", f"{100 * a[:, 1].mean():.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
