"""Learn the 8x8x32 convolutional dictionary shipped for the CSR baseline.

Liu et al. (IEEE SPL 2016) learned 32 filters of 8x8 from 50 natural images with convolutional
dictionary learning; their ``dict.mat`` is research-only. This script learns a dictionary of the same
shape with sporco's ConvBPDNDictLearn (Wohlberg's ADMM CDL, BSD-3) on the high-pass (Tikhonov,
λ = 5) layer of grayscale images bundled with scikit-image (BSD-licensed sample data, no download), and
writes it as safetensors (no pickle) with the settings in the metadata.

Usage:
    python scripts/learn_csr_dictionary.py [--out src/mfif/baselines/data/csr_dict_8x8x32.safetensors]
        [--iters 200] [--size 128]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from skimage import color, data
from skimage.transform import resize
import sporco.fft
from sporco import signal
from sporco.dictlrn import cbpdndl

IMAGES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "moon", "page", "coins", "brick", "grass")


def load_images(size: int) -> np.ndarray:
    out = []
    for name in IMAGES:
        im = getattr(data, name)()
        if im.ndim == 3:
            im = color.rgb2gray(im[..., :3])
        im = im.astype(np.float64)
        if im.max() > 1.5:
            im = im / 255.0
        h, w = im.shape
        s = min(h, w)
        im = im[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        out.append(resize(im, (size, size), anti_aliasing=True))
    return np.stack(out, axis=-1)  # H x W x K


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("src/mfif/baselines/data/csr_dict_8x8x32.safetensors"))
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--lmbda", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    # FFTW planning with FFTW_MEASURE and all threads costs tens of seconds per new shape; float32 is
    # several times faster than float64 here.
    sporco.fft.pyfftw_planner_effort = "FFTW_ESTIMATE"
    sporco.fft.pyfftw_threads = 1
    s = load_images(args.size).astype(np.float32)
    _, sh = signal.tikhonov_filter(s, 5.0, 16)
    rng = np.random.default_rng(args.seed)
    d0 = rng.standard_normal((8, 8, 32)).astype(np.float32)
    d0 /= np.sqrt(np.sum(d0**2, axis=(0, 1), keepdims=True))
    opt = cbpdndl.ConvBPDNDictLearn.Options(
        {
            "Verbose": False, "MaxMainIter": args.iters,
            "CBPDN": {"rho": 50.0 * args.lmbda + 0.5, "DataType": "float32"},
            "CCMOD": {"rho": 10.0, "DataType": "float32"},
        },
        dmethod="cns",
    )
    t0 = time.perf_counter()
    dl = cbpdndl.ConvBPDNDictLearn(d0, sh, args.lmbda, opt, dmethod="cns")
    d = dl.solve()
    dt = time.perf_counter() - t0
    d = np.asarray(d).reshape(8, 8, 32).astype(np.float32)
    meta = {
        "mfif_config": json.dumps({
            "what": "CSR convolutional dictionary, 32 filters 8x8 (H x W x M)",
            "images": list(IMAGES), "size": args.size, "highpass": "sporco.signal.tikhonov_filter(s, 5, 16)",
            "learner": "sporco.dictlrn.cbpdndl.ConvBPDNDictLearn dmethod=cns", "lambda": args.lmbda,
            "iterations": args.iters, "seed": args.seed, "seconds": round(dt, 1),
        })
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, suffix=".tmp")
    os.close(fd)
    save_file({"dictionary": d}, tmp, metadata=meta)
    os.chmod(tmp, 0o644)
    os.replace(tmp, args.out)
    print(f"wrote {args.out} in {dt:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
