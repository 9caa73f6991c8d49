"""``mfif batch`` over 1,000 small items with 5 % corrupt ones, killed with SIGKILL halfway and run again.

Checks: every good item's output written once and complete (equal bytes to an uninterrupted run's),
every bad item reported as FAILED, no temporary or stray file. Prints the counts and times.

    python benchmarks/batch_kill.py [--items 1000] [--size 32]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--method", default="laplacian-argmax")
    args = ap.parse_args()
    from mfif.io import read_image, write_image

    rng = np.random.default_rng(0)
    bad = set(rng.choice(args.items, size=args.items // 20, replace=False).tolist())
    with tempfile.TemporaryDirectory() as tmp:
        ind, out, ref = Path(tmp) / "in", Path(tmp) / "out", Path(tmp) / "ref"
        ind.mkdir()
        for i in range(args.items):
            write_image(ind / f"s{i}_A.png", rng.random((args.size, args.size)).astype(np.float32))
            pb = write_image(ind / f"s{i}_B.png", rng.random((args.size, args.size)).astype(np.float32))
            if i in bad:
                pb.write_bytes(pb.read_bytes()[:40])
        cmd = [sys.executable, "-m", "mfif", "batch", str(ind), str(out), "--method", args.method, "--no-progress"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        half = (args.items - len(bad)) // 2
        while proc.poll() is None:
            if out.is_dir() and sum(1 for p in out.iterdir() if not p.name.startswith(".")) >= half:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        t_kill = time.perf_counter() - t0
        present = sorted(p.name for p in out.iterdir())
        temps = [n for n in present if n.startswith(".")]
        t1 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        t_rerun = time.perf_counter() - t1
        subprocess.run([*cmd[:4], str(ind), str(ref), *cmd[6:]], capture_output=True, text=True)
        names = sorted(p.name for p in out.iterdir())
        expect = sorted(f"s{i}.png" for i in range(args.items) if i not in bad)
        failed = sorted(ln.split()[1].rstrip(":") for ln in r.stdout.splitlines() if ln.startswith("  FAILED"))
        same = all((out / n).read_bytes() == (ref / n).read_bytes() for n in expect if (out / n).exists())
        complete = all(read_image(out / n)[0].shape[:2] == (args.size, args.size) for n in expect if (out / n).exists())
        print(f"items {args.items} ({len(bad)} corrupt), killed after {t_kill:.1f} s with "
              f"{len(present) - len(temps)} outputs and {len(temps)} temporary file(s) present")
        print(f"rerun: exit {r.returncode} in {t_rerun:.1f} s; {r.stdout.splitlines()[0] if r.stdout else ''}")
        print(f"outputs == good items: {names == expect}; failed == corrupt items: "
              f"{failed == sorted(f's{i}' for i in bad)}; equal to an uninterrupted run: {same}; all complete: {complete}")
        ok = names == expect and failed == sorted(f"s{i}" for i in bad) and same and complete
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
