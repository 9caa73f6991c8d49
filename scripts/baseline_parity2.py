"""Parity of the part-2 classical baselines (csr, mwgf, nsct, bf) against the survey's original outputs.

Usage:
    python scripts/baseline_parity2.py ../shared/data/reference/survey-gray [--methods mwgf nsct]
        [--pairs g_01 g_05] [--out scratch/baselines2/parity.md]

The survey folder (yuliu316316/MFIF, grayscale part) holds ``sourceimages/grayscale/g_NN_{1,2}.tif`` and
``Results/grayscale/g_NN_<method>.tif`` produced by the original MATLAB codes. The survey has no CSR
result (it has ``sr``, ``asr``, ``nsct-sr``) and no BF result, so those are reported as "no reference"
(timings only). For those, the table adds, as a plausibility proxy only, the PSNR to the survey's
outputs of two other decision-map methods (``quadtree`` and ``cnn``). PSNR is computed on 8-bit outputs (ours rounded with floor(x·255+0.5)), peak 255.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from mfif.registry import get_method

REF_NAME = {"mwgf": "mwgf", "nsct": "nsct", "csr": None, "bf": None}


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    mse = float(np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("survey", type=Path, help="path of survey-gray (sourceimages/ and Results/)")
    ap.add_argument("--methods", nargs="+", default=["mwgf", "nsct", "bf", "csr"])
    ap.add_argument("--pairs", nargs="+", default=None, help="pair ids, e.g. g_01 (default: all)")
    ap.add_argument("--out", type=Path, default=Path("scratch/baselines2/parity.md"))
    args = ap.parse_args(argv)
    src = args.survey / "sourceimages" / "grayscale"
    res = args.survey / "Results" / "grayscale"
    if not src.is_dir():
        print(f"baseline_parity2: {src} not found", file=sys.stderr)
        return 2
    pairs = args.pairs or sorted({p.name[:4] for p in src.glob("g_*_1.tif")})
    lines = ["# Part-2 baselines vs survey-gray (original MATLAB outputs)", "",
             "PSNR in dB on 8-bit images (peak 255); time = seconds on this machine for one call.", ""]
    for m in args.methods:
        fn = get_method(m).fn
        if REF_NAME[m]:
            lines += [f"## {m}", "", "| pair | size | PSNR (dB) | identical px (%) | time (s) |", "|---|---|---|---|---|"]
        else:
            lines += [f"## {m} (no survey reference)", "",
                      "| pair | size | PSNR to survey quadtree (dB) | PSNR to survey cnn (dB) | time (s) |", "|---|---|---|---|---|"]
        vals = []
        for pid in pairs:
            a = tifffile.imread(src / f"{pid}_1.tif").astype(np.float32) / 255.0
            b = tifffile.imread(src / f"{pid}_2.tif").astype(np.float32) / 255.0
            t0 = time.perf_counter()
            out = fn([a, b]).fused
            dt = time.perf_counter() - t0
            ours = np.floor(out * 255.0 + 0.5)
            ref_p = res / f"{pid}_{REF_NAME[m]}.tif" if REF_NAME[m] else None
            if ref_p is not None and ref_p.exists():
                ref = tifffile.imread(ref_p).astype(np.float64)
                p = psnr(ours, ref)
                same = 100.0 * float(np.mean(ours == ref))
                vals.append(p)
                lines.append(f"| {pid} | {a.shape[0]}x{a.shape[1]} | {p:.2f} | {same:.1f} | {dt:.2f} |")
            else:
                prox = []
                for other in ("quadtree", "cnn"):
                    op = res / f"{pid}_{other}.tif"
                    prox.append(f"{psnr(ours, tifffile.imread(op).astype(np.float64)):.2f}" if op.exists() else "–")
                lines.append(f"| {pid} | {a.shape[0]}x{a.shape[1]} | {prox[0]} | {prox[1]} | {dt:.2f} |")
            print(lines[-1], m, flush=True)
        if vals:
            lines += ["", f"mean PSNR {m}: **{np.mean(vals):.2f} dB** over {len(vals)} pairs (min {min(vals):.2f})"]
        lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
