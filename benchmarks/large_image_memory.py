"""Peak memory of fusing one large pair with tiled MFIF-GAN inference on the CPU.

Usage::

    python benchmarks/large_image_memory.py                       # synthetic 6000×4000 (24 MP) pair
    python benchmarks/large_image_memory.py --size 6000x4000 --tile 512 --threads 2
    python benchmarks/large_image_memory.py --inputs A.jpg B.jpg  # a real pair (e.g. from ../shared)

The generator is the lite configuration (width 8, 3 SE blocks) with the shipped ``mfif-gan-lite``
weights when installed, else random weights (memory and time do not depend on the weights). The pair
is fused with :func:`mfif.fusion.pair.fuse_pair` (tiled inference, the paper's post-processing,
composition) and, with ``--output``, written to disk. Peak memory is the process's peak resident set
size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, Linux: KiB), which includes the Python
interpreter, torch, the inputs and every temporary. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np


def rss_mib() -> float:
    """Peak resident set size of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def synthetic_pair(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured H×W×3 float32 pair: A sharp on the left half, B sharp on the right half.

    Built from a tiled 512² texture so that generation itself needs little extra memory.
    """
    import cv2

    rng = np.random.default_rng(seed)
    tex = rng.random((512, 512, 3)).astype(np.float32)
    tex = cv2.GaussianBlur(tex, (0, 0), 0.8)
    reps = (-(-h // 512), -(-w // 512), 1)
    sharp = np.tile(tex, reps)[:h, :w]
    blurred = cv2.GaussianBlur(sharp, (0, 0), 2.5)
    a = sharp.copy()
    a[:, w // 2 :] = blurred[:, w // 2 :]
    b = blurred
    b[:, w // 2 :] = sharp[:, w // 2 :]
    del sharp
    return a, b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="6000x4000", help="WxH of the synthetic pair (default 24 MP)")
    ap.add_argument("--inputs", nargs=2, default=None, help="fuse these two files instead")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=None, help="default: the model's receptive-field radius")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--output", default=None, help="also write the fused image here")
    args = ap.parse_args()

    import torch

    from mfif.fusion.pair import fuse_pair
    from mfif.fusion.tiling import default_overlap
    from mfif.models.generator import Generator
    from mfif.models.weights import installed_weights, load_generator

    if args.threads:
        torch.set_num_threads(args.threads)
    if installed_weights("mfif-gan-lite"):
        model, weights = load_generator(None, name="mfif-gan-lite", device="cpu"), "mfif-gan-lite (shipped)"
    else:
        torch.manual_seed(0)
        model, weights = Generator(width=8, n_blocks=3).eval(), "random (width 8, 3 blocks)"
    base = rss_mib()
    t0 = time.perf_counter()
    if args.inputs:
        from mfif.io import harmonize, read_image

        (a, _), (b, _) = read_image(args.inputs[0]), read_image(args.inputs[1])
        (a, b), _ = harmonize([a, b], args.inputs)
    else:
        w, h = (int(v) for v in args.size.lower().split("x"))
        a, b = synthetic_pair(h, w)
    t_in = time.perf_counter() - t0
    after_inputs = rss_mib()
    t1 = time.perf_counter()
    res = fuse_pair(model, a, b, device="cpu", tile=args.tile, tile_overlap=args.overlap)
    t_fuse = time.perf_counter() - t1
    if args.output:
        from mfif.io import write_image

        write_image(args.output, res.fused)
    peak = rss_mib()
    print(json.dumps({
        "megapixels": round(a.shape[0] * a.shape[1] / 1e6, 2),
        "shape": list(a.shape),
        "weights": weights,
        "tile": args.tile,
        "overlap": args.overlap if args.overlap is not None else default_overlap(model),
        "threads": torch.get_num_threads(),
        "rss_after_imports_mib": round(base, 1),
        "peak_rss_after_inputs_mib": round(after_inputs, 1),
        "peak_rss_mib": round(peak, 1),
        "input_s": round(t_in, 1),
        "fuse_s": round(t_fuse, 1),
        "decision_fraction_A": round(float(res.decision_map.mean()), 4),
    }))


if __name__ == "__main__":
    main()
