"""How stack fusion scales with the number of frames: time, the CLI end to end, and peak memory.

Usage::

    # the goals of docs/stacking.md §Scaling (openfocus's benchmark size; 3 MP frames for memory)
    python benchmarks/stack_scaling.py --size 1783x1637 --n 12,24 --cli-n 40 --rss-n 100 --rss-size 2000x1500
    # a reduced run
    python benchmarks/stack_scaling.py --size 384x384 --n 12,24 --cli-n 10 --rss-n 100 --rss-size 256x256

Frames: a seeded synthetic tilted-plane focal sweep (:func:`mfif.data.stacks.focal_stack`, 256², with
2 % focus breathing) tiled to the requested size, 8-bit RGB (uint8) as ``mfif fuse`` now holds frames
read from 8-bit files (``--dtype float32`` for float copies). Method: the default for stacks
(``mfif-stack`` when installed) or ``--method`` / ``--strategy``.

Prints JSON lines:

* ``seconds``: in-process fusion time (:func:`mfif.api.fuse`, one warm-up call first) for N₁ and N₂
  frames, the fastest of ``--repeat`` interleaved runs, and ``ratio`` = time(N₂) / time(N₁) (goal ≤ 2.2
  for 24 / 12: linear in N); the same for the process's CPU time (all threads; less sensitive to other
  jobs on the machine);
* ``cli`` (with ``--cli-n``): the frames written as PNG files to a temporary folder, then ``mfif fuse
  FOLDER -o fused.png`` end to end (interpreter start, imports, reading, fusion, writing) without and
  with ``--align ecc`` (the CLI's ``--amp`` default: bf16 on CPUs with native bf16) and once with ``--no-amp``
  (float32, as the in-process runs), beside ``python -c pass`` in the same run; optionally openfocus's guided filter
  (``--openfocus``) on the same files, through its Python API, as the reference of the same run;
* ``rss`` (with ``--rss-n``): a fresh child process builds ``--rss-n`` uint8 frames of ``--rss-size``
  and fuses them; its peak resident set size (``ru_maxrss``: interpreter, torch, the frames and every
  temporary), the frames' own size and the fusion time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def parse_size(text: str) -> tuple[int, int]:
    """``WxH`` → (H, W)."""
    w, _, h = text.lower().partition("x")
    return int(h), int(w)


def frames(n: int, size: tuple[int, int], *, dtype: str = "uint8", seed: int = 0) -> list[np.ndarray]:
    """``n`` H×W×3 frames: a 256² tilted-plane sweep with 2 % breathing, tiled to ``size``."""
    from mfif.data.stacks import focal_stack

    h, w = size
    tile = min(256, h, w)
    st = focal_stack(n, size=(tile, tile), depth_type="tilted", breathing=0.02, seed=seed)
    reps = (-(-h // tile), -(-w // tile), 1)
    out = []
    for f in st.frames:
        t = np.ascontiguousarray(np.tile(f, reps)[:h, :w])
        out.append(np.rint(t * 255).astype(np.uint8) if dtype == "uint8" else t)
    del st
    return out


def fuse_time(imgs: list[np.ndarray], args: argparse.Namespace, *, cpu: bool = False) -> float | tuple[float, float]:
    """Wall seconds of one fusion (and, with ``cpu``, the process's CPU seconds, all threads)."""
    from mfif.api import fuse

    opts = {"stack_strategy": args.strategy} if args.strategy else {}
    t0, c0 = time.perf_counter(), time.process_time()
    fuse(imgs, method=args.method, align=args.align, **opts)
    wall, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return (wall, cpu_s) if cpu else wall


def child_rss(args: argparse.Namespace) -> dict:
    imgs = frames(args.rss_n, parse_size(args.rss_size), dtype=args.dtype)
    frames_mib = sum(f.nbytes for f in imgs) / 2**20
    secs = fuse_time(imgs, args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return dict(n=args.rss_n, size=args.rss_size, dtype=args.dtype, frames_mib=round(frames_mib, 1),
                peak_rss_mib=round(peak, 1), seconds=round(secs, 2))


def _timed(cmd: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, child CPU seconds and the child's peak RSS (MiB) of one command."""
    code = ("import resource, subprocess, sys, time, json\n"
            "t0 = time.perf_counter()\n"
            f"r = subprocess.run({cmd!r}, capture_output=True, text=True)\n"
            "wall = time.perf_counter() - t0\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(json.dumps([wall, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024.0, r.returncode, r.stderr[-400:]]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall, cpu, rss, rc, err = json.loads(out.stdout.strip().splitlines()[-1])
    if rc != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {rc}: {err}")
    return wall, cpu, rss, err


def cli_runs(args: argparse.Namespace) -> dict:
    import cv2

    size = parse_size(args.size)
    out: dict = dict(n=args.cli_n, size=args.size)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "stack"
        d.mkdir()
        for k, f in enumerate(frames(args.cli_n, size)):
            cv2.imwrite(str(d / f"z{k + 1:03d}.png"), f[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
        mfif = [sys.executable, "-m", "mfif", "fuse", str(d), "-o"]
        method = ["--method", args.method] if args.method_given else []
        runs = {"python -c pass": [sys.executable, "-c", "pass"],
                "mfif fuse FOLDER": [*mfif, str(Path(tmp) / "f.png"), *method],
                "mfif fuse FOLDER --no-amp": [*mfif, str(Path(tmp) / "fn.png"), "--no-amp", *method],
                "mfif fuse FOLDER --align ecc": [*mfif, str(Path(tmp) / "fa.png"), "--align", "ecc", *method]}
        for name, cmd in runs.items():
            wall, cpu, rss, err = _timed(cmd)
            out[name] = dict(wall_s=round(wall, 2), cpu_s=round(cpu, 2), peak_rss_mib=round(rss, 1))
            if "fused" in err:
                out[name]["says"] = [ln for ln in err.splitlines() if "fused" in ln][-1][:120]
        if args.openfocus:
            code = ("import sys, glob, time, cv2, numpy as np\n"
                    "from core.multi_focus_fusion import fuse_images\n"
                    f"fs = [cv2.imread(p).astype(np.float32) for p in sorted(glob.glob({str(d)!r} + '/*.png'))]\n"
                    "t0 = time.perf_counter()\n"
                    f"fuse_images(fs, algorithm={args.openfocus!r}, use_gpu=False)\n"
                    "print(time.perf_counter() - t0)\n")
            wall, cpu, rss, _ = _timed([sys.executable, "-c", code])
            out[f"openfocus {args.openfocus} (python, files read in)"] = dict(
                wall_s=round(wall, 2), cpu_s=round(cpu, 2), peak_rss_mib=round(rss, 1))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", default="384x384", help="WxH of the timed stacks (goal: 1783x1637)")
    p.add_argument("--n", default="12,24", help="two frame counts N1,N2 (default 12,24; empty skips)")
    p.add_argument("--repeat", type=int, default=2, help="timed runs per N, interleaved; the fastest counts")
    p.add_argument("--cli-n", type=int, default=0, help="frames of the CLI end-to-end runs (goal: 40; 0 skips)")
    p.add_argument("--openfocus", default=None, help="also time openfocus ALGO (e.g. guided_filter) on the CLI frames")
    p.add_argument("--rss-n", type=int, default=100, help="frames of the memory run (default 100; 0 skips it)")
    p.add_argument("--rss-size", default="128x128", help="WxH of the memory run (goal: 2000x1500, 3 MP)")
    p.add_argument("--dtype", default="uint8", choices=("uint8", "float32"), help="in-memory frames (default uint8)")
    p.add_argument("--method", default=None, help="registry name (default: mfif's default for stacks)")
    p.add_argument("--strategy", default=None, help="vote or sequential (pair methods)")
    p.add_argument("--align", default="none", help="none, ecc or homography (in-process runs)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--child-rss", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from mfif.fusion.methods import default_method

    args.method_given = args.method is not None
    args.method = args.method or default_method(3, ["stack_strategy"] if args.strategy else [])
    if args.child_rss:
        print(json.dumps(child_rss(args)))
        return
    from mfif.models.runtime import cpu_has_native_bf16

    print(json.dumps(dict(method=args.method, strategy=args.strategy, align=args.align, dtype=args.dtype,
                          cli_amp_bf16=cpu_has_native_bf16(),
                          load_average=round(os.getloadavg()[0], 2))), flush=True)
    if args.n:
        n1, n2 = (int(x) for x in args.n.split(","))
        size = parse_size(args.size)
        fuse_time(frames(3, (64, 64), dtype=args.dtype), args)  # warm-up: model load, first-call costs
        stacks = {n: frames(n, size, dtype=args.dtype) for n in (n1, n2)}
        wall: dict[int, list[float]] = {n1: [], n2: []}
        cpu: dict[int, list[float]] = {n1: [], n2: []}
        for _ in range(args.repeat):  # interleaved, so a change of load hits both
            for n in (n1, n2):
                w, c = fuse_time(stacks[n], args, cpu=True)
                wall[n].append(w)
                cpu[n].append(c)
        del stacks
        best = {n: round(min(v), 2) for n, v in wall.items()}
        best_cpu = {n: round(min(v), 2) for n, v in cpu.items()}
        print(json.dumps(dict(size=args.size, repeat=args.repeat, seconds=best, ratio=round(best[n2] / best[n1], 3),
                              cpu_seconds=best_cpu, cpu_ratio=round(best_cpu[n2] / best_cpu[n1], 3))), flush=True)
    if args.cli_n:
        print(json.dumps(dict(cli=cli_runs(args))), flush=True)
    if args.rss_n:
        cmd = [sys.executable, os.path.abspath(__file__), "--child-rss", "--rss-n", str(args.rss_n), "--rss-size",
               args.rss_size, "--method", args.method, "--align", args.align, "--threads", str(args.threads),
               "--dtype", args.dtype]
        if args.strategy:
            cmd += ["--strategy", args.strategy]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise SystemExit(f"memory run failed: {res.stderr.strip().splitlines()[-1:]}")
        print(json.dumps(dict(rss=json.loads(res.stdout.strip().splitlines()[-1]))), flush=True)
    print(json.dumps(dict(load_average_end=round(os.getloadavg()[0], 2))))


if __name__ == "__main__":
    main()
