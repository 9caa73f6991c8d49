#!/usr/bin/env python
"""Speed of ``mfif.metrics.evaluate``: all twelve metrics on a 520 x 520 RGB triple.

Target (issue 3): <= 0.25 s on the project's 2-core machine. Reports the median and best of
``--repeat`` runs, plus a same-run comparison with scoring each metric separately through
``METRICS[name].fn`` (no shared gray conversion / intermediates).

Usage::

    python benchmarks/metrics_speed.py                      # seeded synthetic 520x520 RGB triple
    python benchmarks/metrics_speed.py --lytro ../shared/data/inputs/lytro/lytro_01 \\
        --fused ../shared/data/reference/mfif-gan-official/Lytro/MFIF-GAN/Lytro_fusion_1.jpg
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np


def synthetic(size: int = 520, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    truth = gaussian_filter(rng.random((size, size, 3)), sigma=(1.0, 1.0, 0))
    truth = (truth - truth.min()) / (truth.max() - truth.min())
    blur = gaussian_filter(truth, sigma=(2.5, 2.5, 0))
    m = np.zeros((size, size, 1))
    m[:, : size // 2] = 1
    q = lambda x: np.floor(x * 255 + 0.5).astype(np.uint8)  # noqa: E731
    return q(truth * m + blur * (1 - m)), q(blur * m + truth * (1 - m)), q(truth)


def timeit(fn, repeat: int, cpu: list[float] | None = None) -> list[float]:  # noqa: ANN001
    """Wall-clock seconds of ``repeat`` calls after a warm-up; CPU seconds (all threads) into ``cpu``."""
    fn()  # warm-up (kernel caches, imports)
    out = []
    for _ in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
        if cpu is not None:
            cpu.append(time.process_time() - c0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lytro", default=None, help="path prefix of a pair: PREFIX_A.jpg / PREFIX_B.jpg")
    ap.add_argument("--fused", default=None, help="fused image for --lytro")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    from mfif.metrics import METRIC_NAMES, METRICS, evaluate

    if args.lytro:
        from PIL import Image

        ld = lambda p: np.asarray(Image.open(p).convert("RGB"))  # noqa: E731
        a, b = ld(args.lytro + "_A.jpg"), ld(args.lytro + "_B.jpg")
        f = ld(args.fused) if args.fused else a
        what = f"{args.lytro} ({a.shape[1]}x{a.shape[0]} RGB uint8)"
    else:
        a, b, f = synthetic()
        what = "seeded synthetic 520x520 RGB uint8 triple"
    cpu: list[float] = []
    t_all = timeit(lambda: evaluate(a, b, f), args.repeat, cpu)
    t_sep = timeit(lambda: [METRICS[n].fn(a, b, f) for n in METRIC_NAMES], max(3, args.repeat // 3))
    per = {}
    for n in METRIC_NAMES:
        per[n] = statistics.median(timeit(lambda n=n: evaluate(a, b, f, metrics=[n]), 3))
    print(f"input: {what}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, numpy {np.__version__}")
    print(f"evaluate (all 12, shared intermediates): median {statistics.median(t_all):.3f} s, "
          f"best {min(t_all):.3f} s over {len(t_all)} runs; CPU time (both threads) median "
          f"{statistics.median(cpu):.3f} s")
    try:
        print(f"load average at the end: {os.getloadavg()[0]:.2f} (other processes share the cores)")
    except OSError:
        pass
    print(f"each metric separately (no sharing):     median {statistics.median(t_sep):.3f} s")
    print("single metric (incl. gray conversion): " + ", ".join(f"{n} {v * 1000:.0f} ms" for n, v in per.items()))


if __name__ == "__main__":
    main()
