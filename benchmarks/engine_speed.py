"""The lite network alone on both engines: numpy engine (OpenCV and pure-numpy backends) against torch.

Usage:
    python benchmarks/engine_speed.py [--repeats 7] [--size 520] [--weights mfif-gan-lite]

One seeded RGB pair of ``size``², the shipped weights (or a file), the network call only (no padding,
no post-processing). Interleaved rounds, each timing every engine once; prints the median wall and CPU
time (user + system of this process, all threads) per call, and the largest map difference from the
torch float32 forward. Torch runs as inference does: BatchNorm folded, channels-last
(:func:`mfif.fusion.methods.get_generator`), float32 and bf16 autocast.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--size", type=int, default=520)
    ap.add_argument("--weights", default="mfif-gan-lite", help="shipped weights name or a .safetensors path")
    args = ap.parse_args(argv)

    import numpy as np

    from mfif.models.numpy_net import NumpyGenerator, numpy_generator_from_state
    from mfif.models.weights import installed_weights, read_state_numpy

    shipped = not os.path.exists(args.weights)
    state, meta = read_state_numpy(installed_weights(args.weights) if shipped else args.weights)
    opencv = numpy_generator_from_state(state, meta)
    pure = NumpyGenerator(state, input_mode=opencv.config.input_mode, backend="numpy")

    import torch

    from mfif.fusion.methods import get_generator

    tg = get_generator(args.weights, None, "cpu") if shipped else get_generator("mfif-gan", args.weights, "cpu")
    rng = np.random.default_rng(0)
    a = rng.random((1, 3, args.size, args.size), dtype=np.float32)
    b = rng.random((1, 3, args.size, args.size), dtype=np.float32)
    ta = torch.from_numpy(a).contiguous(memory_format=torch.channels_last)
    tb = torch.from_numpy(b).contiguous(memory_format=torch.channels_last)

    def torch_call(bf16: bool) -> np.ndarray:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return tg(ta, tb).float().numpy()

    calls = {
        f"numpy engine, OpenCV backend ({opencv.backend})": lambda: opencv(a, b),
        "numpy engine, pure-numpy backend": lambda: pure(a, b),
        "torch float32 (BN folded, channels-last)": lambda: torch_call(False),
        "torch bf16 autocast": lambda: torch_call(True),
    }
    ref = torch_call(False)
    diffs = {k: float(np.abs(f() - ref).max()) for k, f in calls.items()}  # also the warm-up
    wall: dict[str, list[float]] = {k: [] for k in calls}
    cpu: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(args.repeats):
        for k, f in calls.items():
            c0, t0 = time.process_time(), time.perf_counter()
            f()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    print(f"{args.weights}, {args.size}² RGB pair, {args.repeats} interleaved rounds, torch threads "
          f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    print("| engine | median wall s | median CPU s | max map difference from torch fp32 |\n|---|--:|--:|--:|")
    for k in calls:
        print(f"| {k} | {statistics.median(wall[k]):.3f} | {statistics.median(cpu[k]):.3f} | {diffs[k]:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
