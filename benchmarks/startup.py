"""Start-up cost of ``mfif fuse``: wall time end to end on a 520x520 pair against ``python -c pass``.

Runs every command ``--repeat`` times, interleaved (so load from other jobs hits all of them alike), and
prints the median wall time of each, its difference from the bare interpreter measured in the same
run, and the median CPU time (user + system of the child; less sensitive to other jobs on the machine
than the wall time). Commands: the bare interpreter, ``import numpy``, ``import torch``, ``mfif --version``, a rejected
too-small input (the error path: must not import torch), ``mfif fuse`` with a classical method,
``mfif fuse`` with the default method (the lite network on a CPU: the numpy engine, no torch), and the
same with ``MFIF_ENGINE=torch`` (the torch engine, as before the numpy engine existed).

    python benchmarks/startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_pair(d: Path, size: int = 520) -> tuple[Path, Path, Path]:
    import numpy as np
    from scipy.ndimage import gaussian_filter

    from mfif.io import write_image

    rng = np.random.default_rng(0)
    truth = gaussian_filter(rng.random((size, size, 3)).astype(np.float32), (0.8, 0.8, 0))
    blur = gaussian_filter(truth, (2.5, 2.5, 0))
    m = np.zeros((size, size, 1), np.float32)
    m[:, : size // 2] = 1
    a = write_image(d / "a.png", truth * m + blur * (1 - m))
    b = write_image(d / "b.png", blur * m + truth * (1 - m))
    tiny = write_image(d / "tiny.png", truth[:5, :5])
    return a, b, tiny


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    mfif = [py, "-m", "mfif"]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        a, b, tiny = make_pair(d)
        cmds = {
            "python -c pass": [py, "-c", "pass"],
            "import numpy": [py, "-c", "import numpy"],
            "import torch": [py, "-c", "import torch"],
            "mfif --version": [*mfif, "--version"],
            "mfif fuse (too-small input, exit 2)": [*mfif, "fuse", str(a), str(tiny), "-o", str(d / "x.png")],
            "mfif fuse --method laplacian-argmax": [*mfif, "fuse", str(a), str(b), "-o", str(d / "l.png"),
                                                    "--method", "laplacian-argmax"],
            "mfif fuse (default method)": [*mfif, "fuse", str(a), str(b), "-o", str(d / "f.png")],
            "mfif fuse (default method, MFIF_ENGINE=torch)": [*mfif, "fuse", str(a), str(b), "-o", str(d / "t.png")],
        }
        base_env = {k: v for k, v in os.environ.items() if k != "MFIF_ENGINE"}
        envs = {k: dict(base_env, MFIF_ENGINE="torch") if "MFIF_ENGINE=torch" in k else base_env for k in cmds}
        times: dict[str, list[float]] = {k: [] for k in cmds}
        cpu: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.repeat):
            for name, cmd in cmds.items():
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                r = subprocess.run(cmd, capture_output=True, text=True, env=envs[name])
                times[name].append(time.perf_counter() - t0)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
                expect = 2 if "too-small" in name else 0
                if r.returncode != expect:
                    print(f"{name}: exit {r.returncode}\n{r.stderr}", file=sys.stderr)
                    return 1
    base = statistics.median(times["python -c pass"])
    print(f"{'command':46s} {'median wall':>12s} {'minus python -c pass':>21s} {'median CPU':>11s}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:46s} {med:10.3f} s {med - base:19.3f} s {statistics.median(cpu[name]):9.3f} s")
    print(f"({args.repeat} runs each, interleaved; {py}; load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
