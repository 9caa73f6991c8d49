#!/usr/bin/env python
"""Learned-method speed when another process shares the CPU: thread settings compared in one run.

Usage::

    python benchmarks/contention.py [--size 520] [--repeat 10] [--method mfif-gan-lite]

Each setting runs in a fresh interpreter (OpenMP reads its environment once, at start-up) that fuses
one seeded ``--size``² pair ``--repeat`` times in-process (after one warm-up) and reports the median
seconds per pair — once on the idle machine and once while a competing process keeps one core busy
(a pure-Python loop, started before and stopped after). Settings: OpenMP threads spinning while they
wait (``OMP_WAIT_POLICY=ACTIVE``; libgomp's default spins for a while too) or sleeping (``PASSIVE``,
what ``import mfif`` sets unless the environment says otherwise), and torch's intra-op threads = all
cores or 1. The ratio busy / idle is what a user of a shared
machine (a batch worker, a Dask worker, a second job) sees.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time

CHILD = r"""
import json, statistics, sys, time
import mfif  # before torch, as the CLI does: mfif sets OMP_WAIT_POLICY unless the environment has it
import numpy as np
import torch
threads = int(sys.argv[1]); size = int(sys.argv[2]); repeat = int(sys.argv[3]); method = sys.argv[4]
if threads:
    torch.set_num_threads(threads)
rng = np.random.default_rng(0)
a = rng.random((size, size, 3), dtype=np.float32); b = rng.random((size, size, 3), dtype=np.float32)
mfif.fuse([a, b], method=method, device="cpu", amp=False, order="given")
ts = []
for _ in range(repeat):
    t = time.perf_counter(); mfif.fuse([a, b], method=method, device="cpu", amp=False, order="given")
    ts.append(time.perf_counter() - t)
print(json.dumps({"median": statistics.median(ts), "threads": torch.get_num_threads()}))
"""


def _burn(stop: "mp.synchronize.Event") -> None:  # type: ignore[name-defined]
    x = 0
    while not stop.is_set():
        for _ in range(100000):
            x += 1


def _run(policy: str | None, threads: int, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    env["MFIF_OMP_WAIT_POLICY"] = policy or "default"
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", CHILD, str(threads), str(args.size), str(args.repeat), args.method],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=520)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--method", default="mfif-gan-lite")
    args = ap.parse_args()
    settings = [("ACTIVE", 0), ("PASSIVE", 0), ("ACTIVE", 1), ("PASSIVE", 1), (None, 0)]
    print(f"{os.cpu_count()} cores; {args.method}, {args.size}x{args.size} pair, median of {args.repeat}, float32")
    print("| OMP_WAIT_POLICY | torch threads | idle s/pair | one core busy s/pair | busy / idle |")
    print("|---|---|---|---|---|")
    for policy, threads in settings:
        idle = _run(policy, threads, args)
        stop = mp.Event()
        p = mp.Process(target=_burn, args=(stop,))
        p.start()
        time.sleep(0.5)
        try:
            busy = _run(policy, threads, args)
        finally:
            stop.set()
            p.join()
        print(f"| {policy or 'not set (mfif sets PASSIVE)'} | {idle['threads']} | {idle['median']:.3f} | {busy['median']:.3f} "
              f"| {busy['median'] / idle['median']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
