"""What a user waits for: ``mfif fuse`` end to end (process start-up included) beside the in-process time.

Usage:
    python benchmarks/cli_speed.py [--repeats 5] [--paper [--paper-repeats 3]] [--methods mfif-gan-lite,gff]

The pair is the built-in example of ``mfif demo`` (scikit-image's astronaut, 512×512 RGB, α-matte
model), written once as PNG files into a temporary folder. In the same run, interleaved, each repeat times

* ``python -c pass`` — the interpreter's own start-up (the floor of any command);
* ``mfif fuse A.png B.png -o F.png --method M`` — the command a user runs (start-up, imports, reading
  the weights, reading and writing the files, the network and the post-processing), one process each;
* in-process ``mfif.fuse([a, b], method=M, amp="auto")`` after one warm-up call — the fusion alone, as
  the CLI runs it (bf16 where the CPU computes it natively).

``--paper`` adds the paper-size ``mfif-gan`` in-process (its CPU time per pair; a few seconds to a minute).
Prints one Markdown row per measurement with the median and the range, and the CPU model.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _row(name: str, times: list[float]) -> str:
    return f"| {name} | {statistics.median(times):.3f} | {min(times):.3f}–{max(times):.3f} | {len(times)} |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--methods", default="mfif-gan-lite,gff", help="methods timed with the CLI and in-process")
    ap.add_argument("--paper", action="store_true", help="also time mfif-gan in-process (slow on a CPU)")
    ap.add_argument("--paper-repeats", type=int, default=3, help="runs of mfif-gan per precision")
    args = ap.parse_args(argv)

    import os

    import mfif
    from mfif.bench.runner import cpu_name
    from mfif.cli.demo import demo_pair
    from mfif.io import write_image

    a, b, _, _ = demo_pair()
    methods = [m for m in args.methods.split(",") if m]
    mfif_exe = str(Path(sys.executable).with_name("mfif"))
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pa, pb = os.path.join(tmp, "A.png"), os.path.join(tmp, "B.png")
        write_image(pa, a)
        write_image(pb, b)
        for m in methods:  # warm-up: file caches, first-import byte compilation
            _wall([mfif_exe, "fuse", pa, pb, "-o", os.path.join(tmp, "F.png"), "--method", m])
            mfif.fuse([a, b], method=m, amp="auto") if _learned(m) else mfif.fuse([a, b], method=m)
        for _ in range(args.repeats):
            times.setdefault("`python -c pass`", []).append(_wall([sys.executable, "-c", "pass"]))
            for m in methods:
                key = f"`mfif fuse A.png B.png -o F.png --method {m}` (end to end)"
                times.setdefault(key, []).append(
                    _wall([mfif_exe, "fuse", pa, pb, "-o", os.path.join(tmp, "F.png"), "--method", m]))
                t0 = time.perf_counter()
                mfif.fuse([a, b], method=m, amp="auto") if _learned(m) else mfif.fuse([a, b], method=m)
                times.setdefault(f"`mfif.fuse([a, b], method='{m}')` in-process", []).append(time.perf_counter() - t0)
    if args.paper:
        mfif.fuse([a[:96, :96], b[:96, :96]], method="mfif-gan", amp="auto")  # warm-up: loads the weights
        for amp in ("auto", False):
            key = f"`mfif.fuse([a, b], method='mfif-gan', amp={amp!r})` in-process"
            for _ in range(max(1, args.paper_repeats)):
                t0 = time.perf_counter()
                mfif.fuse([a, b], method="mfif-gan", amp=amp)
                times.setdefault(key, []).append(time.perf_counter() - t0)
    load = os.getloadavg()[0]
    print(f"CPU: {cpu_name()}, load average {load:.1f}; 512×512 RGB pair; seconds")
    print("| measurement | median | range | runs |\n|---|--:|--:|--:|")
    for k, v in times.items():
        print(_row(k, v))
    return 0


def _learned(method: str) -> bool:
    from mfif.registry import get_method

    return get_method(method).needs_weights


if __name__ == "__main__":
    sys.exit(main())
