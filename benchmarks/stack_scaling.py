"""How the default learned stack fusion scales with the number of frames: time and peak memory.

Usage::

    # the goals of docs/stacking.md §Deep stacks (openfocus's benchmark size; 3 MP frames for memory)
    python benchmarks/stack_scaling.py --size 1783x1637 --n 12,24 --rss-n 100 --rss-size 2000x1500
    # a reduced run
    python benchmarks/stack_scaling.py --size 384x384 --n 12,24 --rss-n 100 --rss-size 128x128

Frames: a seeded synthetic tilted-plane focal sweep (:func:`mfif.data.stacks.focal_stack`, 256²,
Gaussian defocus) tiled to the requested size, float32 RGB as ``mfif fuse`` holds them after
reading. Fusion: :func:`mfif.api.fuse` with the default method and its default stack strategy
(``--strategy`` to force one; ``--align ecc`` to include the registration), one warm-up call first.

Reports two JSON lines (the second once the memory run ends):

* ``seconds``: fusion time per N (same process, back to back) and ``ratio`` = time(N₂) / time(N₁)
  (the goal: ≤ 2.2 for N = 24 / 12, i.e. linear in N);
* ``rss``: a fresh child process builds ``--rss-n`` frames of ``--rss-size`` and fuses them; its
  peak resident set size (``ru_maxrss``: interpreter, torch, the frames and every temporary), the
  frames' own size and the fusion time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def parse_size(text: str) -> tuple[int, int]:
    """``WxH`` → (H, W)."""
    w, _, h = text.lower().partition("x")
    return int(h), int(w)


def frames(n: int, size: tuple[int, int], *, seed: int = 0) -> list[np.ndarray]:
    """``n`` float32 H×W×3 frames: a 256² tilted-plane sweep tiled to ``size``."""
    from mfif.data.stacks import focal_stack

    h, w = size
    tile = min(256, h, w)
    st = focal_stack(n, size=(tile, tile), depth_type="tilted", seed=seed)
    reps = (-(-h // tile), -(-w // tile), 1)
    out = []
    for f in st.frames:
        out.append(np.ascontiguousarray(np.tile(f, reps)[:h, :w]))
    del st
    return out


def fuse_time(imgs: list[np.ndarray], args: argparse.Namespace) -> float:
    from mfif.api import fuse

    opts = {"stack_strategy": args.strategy} if args.strategy else {}
    t0 = time.perf_counter()
    fuse(imgs, method=args.method, align=args.align, **opts)
    return time.perf_counter() - t0


def child_rss(args: argparse.Namespace) -> dict:
    imgs = frames(args.rss_n, parse_size(args.rss_size))
    frames_mib = sum(f.nbytes for f in imgs) / 2**20
    secs = fuse_time(imgs, args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return dict(n=args.rss_n, size=args.rss_size, frames_mib=round(frames_mib, 1), peak_rss_mib=round(peak, 1),
                seconds=round(secs, 2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", default="384x384", help="WxH of the timed stacks (goal: 1783x1637)")
    p.add_argument("--n", default="12,24", help="two frame counts N1,N2 (default 12,24)")
    p.add_argument("--rss-n", type=int, default=100, help="frames of the memory run (default 100; 0 skips it)")
    p.add_argument("--rss-size", default="128x128", help="WxH of the memory run (goal: 2000x1500, 3 MP)")
    p.add_argument("--method", default=None, help="registry name (default: mfif's default method)")
    p.add_argument("--strategy", default=None, help="vote or sequential (default: the method's default)")
    p.add_argument("--align", default="none", help="none, ecc or homography")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--child-rss", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from mfif.fusion.methods import default_method
    from mfif.fusion.stack import DEFAULT_LEARNED_STRATEGY

    args.method = args.method or default_method()
    if args.child_rss:
        print(json.dumps(child_rss(args)))
        return
    n1, n2 = (int(x) for x in args.n.split(","))
    size = parse_size(args.size)
    fuse_time(frames(3, (64, 64)), args)  # warm-up: model load, first-call costs
    seconds = {}
    for n in (n1, n2):
        imgs = frames(n, size)
        seconds[n] = round(fuse_time(imgs, args), 2)
        del imgs
    out = dict(method=args.method, strategy=args.strategy or DEFAULT_LEARNED_STRATEGY, align=args.align,
               size=args.size, seconds=seconds, ratio=round(seconds[n2] / seconds[n1], 3),
               torch_threads=torch.get_num_threads())
    print(json.dumps(out), flush=True)
    if args.rss_n:
        cmd = [sys.executable, os.path.abspath(__file__), "--child-rss", "--rss-n", str(args.rss_n), "--rss-size",
               args.rss_size, "--method", args.method, "--align", args.align, "--threads", str(args.threads)]
        if args.strategy:
            cmd += ["--strategy", args.strategy]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise SystemExit(f"memory run failed: {res.stderr.strip().splitlines()[-1:]}")
        print(json.dumps(dict(rss=json.loads(res.stdout.strip().splitlines()[-1]))))


if __name__ == "__main__":
    main()
