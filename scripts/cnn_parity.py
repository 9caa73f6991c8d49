"""Parity of our ``cnn`` (Liu et al. 2017, retrained here) against the published outputs of the original.

Usage:
    python scripts/cnn_parity.py --survey ../shared/data/reference/survey-gray
        --mfifb ../shared/data/reference/mfifb --lytro ../shared/data/inputs/lytro
        [--weights FILE] [--pairs N] [--doc docs/comparisons/cnn.md | --no-doc]

1. Survey grayscale set (lossless TIFF outputs of the authors' MATLAB code with their ``cnnmodel.mat``):
   ``sourceimages/grayscale/g_NN_{1,2}.tif`` and ``Results/grayscale/g_NN_cnn.tif``. Our output (the
   registry method at its defaults, the sources in the given order, the paper's protocol) is converted to
   8 bits as MATLAB's ``uint8`` does. Per pair: PSNR (peak 255) between the fused images, and the share of
   identical decision pixels: each fused image's decision is read back from the image itself — 1 where it
   is nearer to source A than to B, 0 where nearer to B — over the pixels where A and B differ by more than
   2 grey levels (elsewhere the choice is not visible); "exact" counts the pixels where both fused images
   equal one source exactly (no guided-filter blend) and pick the same one. For scale, the same decision
   agreement between the survey's CNN and its DSIFT output (two methods of the same author).
2. Lytro (MFIFB's published CNN outputs, JPEG): ours re-encoded with the published file's own JPEG tables
   and subsampling (:func:`mfif.bench.formats.jpeg_settings`), then PSNR to the published image (and PSNR
   without the re-encoding), and the nearest-source decision agreement on the luma (approximate under JPEG).

The tables are printed and written between ``<!-- cnn-parity:start -->`` / ``<!-- cnn-parity:end -->`` of
``--doc`` (atomically) unless ``--no-doc``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

from mfif.bench.formats import jpeg_roundtrip, jpeg_settings
from mfif.bench.report import replace_section
from mfif.filters import luma
from mfif.io import read_image
from mfif.metrics.reference import psnr
from mfif.registry import get_method

START, END = "<!-- cnn-parity:start -->", "<!-- cnn-parity:end -->"
#: Pixels where the sources differ by at most this many grey levels do not show a decision.
MIN_DIFF = 2.0


def to_uint8(x: np.ndarray) -> np.ndarray:
    """float [0, 1] → uint8 like MATLAB ``uint8(x*255)`` (half away from zero), float32 noise snapped."""
    v = np.round(np.asarray(x, np.float64) * 255.0, 4)
    return np.clip(np.floor(v + 0.5), 0, 255).astype(np.uint8)


def _g(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return luma(x / 255.0) * 255.0 if x.ndim == 3 else x


def decisions(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(nearest-source decision, exact-pick label, visible mask) of a fused image, all on 0..255 gray.

    nearest: 1 where |F − A| < |F − B|; exact: 1 where F == A, 0 where F == B, −1 elsewhere (a blend);
    visible: |A − B| > :data:`MIN_DIFF`.
    """
    f, a, b = _g(f), _g(a), _g(b)
    near = (np.abs(f - a) < np.abs(f - b)).astype(np.int8)
    exact = np.full(f.shape, -1, np.int8)
    exact[np.abs(f - b) < 0.5] = 0
    exact[np.abs(f - a) < 0.5] = 1
    return near, exact, np.abs(a - b) > MIN_DIFF


def agreement(f1: np.ndarray, f2: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(% identical nearest-source decisions, % identical exact picks) over the visible pixels."""
    n1, e1, vis = decisions(f1, a, b)
    n2, e2, _ = decisions(f2, a, b)
    return 100.0 * float(np.mean(n1[vis] == n2[vis])), 100.0 * float(np.mean((e1[vis] == e2[vis]) & (e1[vis] >= 0)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--survey", type=Path, default=Path("../shared/data/reference/survey-gray"))
    ap.add_argument("--mfifb", type=Path, default=Path("../shared/data/reference/mfifb"))
    ap.add_argument("--lytro", type=Path, default=Path("../shared/data/inputs/lytro"))
    ap.add_argument("--weights", default=None, help="cnn weights (default: the shipped file)")
    ap.add_argument("--pairs", type=int, default=None, help="only the first N pairs of each set")
    ap.add_argument("--doc", type=Path, default=Path("docs") / "comparisons" / "cnn.md")
    ap.add_argument("--no-doc", action="store_true", help="print the tables only")
    args = ap.parse_args(argv)

    src, res = args.survey / "sourceimages" / "grayscale", args.survey / "Results" / "grayscale"
    for d in (src, res, args.mfifb / "fused", args.lytro):
        if not d.is_dir():
            print(f"cnn_parity: {d}: no such folder", file=sys.stderr)
            return 2
    if not args.no_doc and not args.doc.is_file():
        print(f"cnn_parity: {args.doc}: no such file (use --doc PATH or --no-doc)", file=sys.stderr)
        return 2
    fn = get_method("cnn").fn
    opts = {"weights": args.weights, "device": "cpu"}

    gray_rows = []
    for pid in sorted(p.name[:-6] for p in src.glob("g_*_1.tif"))[: args.pairs]:
        a, _ = read_image(src / f"{pid}_1.tif")
        b, _ = read_image(src / f"{pid}_2.tif")
        t0 = time.perf_counter()
        ours = to_uint8(fn([a, b], **opts).fused)
        dt = time.perf_counter() - t0
        ref = to_uint8(read_image(res / f"{pid}_cnn.tif")[0])
        a8, b8 = to_uint8(a), to_uint8(b)
        near, exact = agreement(ours, ref, a8, b8)
        ds = res / f"{pid}_dsift.tif"
        scale = agreement(to_uint8(read_image(ds)[0]), ref, a8, b8)[0] if ds.exists() else float("nan")
        row = (pid, a.shape, near, exact, psnr(ours, ref, peak=255.0), scale, dt)
        gray_rows.append(row)
        print(f"{pid}: decisions {near:.2f} % (exact {exact:.2f} %), PSNR {row[4]:.2f} dB, "
              f"survey dsift vs cnn {scale:.2f} %, {dt:.1f} s", flush=True)

    lytro_rows = []
    for pa in sorted(args.lytro.glob("lytro_*_A.jpg"))[: args.pairs]:
        pid = pa.name[: -len("_A.jpg")]
        pub = args.mfifb / "fused" / f"{pid}_CNN.jpg"
        if not pub.exists():
            continue
        a, _ = read_image(pa)
        b, _ = read_image(pa.with_name(f"{pid}_B.jpg"))
        t0 = time.perf_counter()
        out = fn([a, b], **opts).fused
        dt = time.perf_counter() - t0
        ref, _ = read_image(pub)
        matched = jpeg_roundtrip(out, settings=jpeg_settings(pub))
        p_m = psnr(to_uint8(matched), to_uint8(ref), peak=255.0)
        p_raw = psnr(to_uint8(out), to_uint8(ref), peak=255.0)
        near = agreement(to_uint8(matched), to_uint8(ref), to_uint8(a), to_uint8(b))[0]
        lytro_rows.append((pid, a.shape, p_m, p_raw, near, dt))
        print(f"{pid}: PSNR {p_m:.2f} dB format-matched ({p_raw:.2f} dB lossless), decisions {near:.2f} %, {dt:.1f} s",
              flush=True)

    lines = [
        f"Generated by `scripts/cnn_parity.py` on {platform.node() or 'this machine'} "
        f"({platform.processor() or platform.machine()}); weights: {args.weights or 'shipped'}; "
        "the sources in the given order (A first), `postprocess=\"paper\"`.",
        "",
        "Survey grayscale set (lossless TIFF outputs of the authors' code and weights). Decisions: share of the "
        f"pixels where the sources differ by more than {MIN_DIFF:g} grey levels on which both fused images are "
        "nearer to the same source (exact: both equal that source exactly, no blend); PSNR between the fused "
        "images (peak 255); for scale, the same decision agreement between the survey's DSIFT and CNN outputs.",
        "",
        "| pair | size | decisions identical % | exact picks identical % | PSNR dB | survey DSIFT vs CNN % | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for pid, shp, near, exact, p, scale, dt in gray_rows:
        lines.append(f"| {pid} | {shp[1]}×{shp[0]} | {near:.2f} | {exact:.2f} | {p:.2f} | {scale:.2f} | {dt:.1f} |")
    if gray_rows:
        m = np.array([r[2:6] for r in gray_rows], float)
        lines.append(f"| **mean** | | **{m[:, 0].mean():.2f}** | {m[:, 1].mean():.2f} | **{np.mean(np.minimum(m[:, 2], 100)):.2f}** "
                     f"| {np.nanmean(m[:, 3]):.2f} | |")
    lines += [
        "",
        "Lytro (MFIFB's published CNN outputs, JPEG): ours re-encoded with each published file's JPEG tables and "
        "subsampling, PSNR to it (peak 255); lossless: without the re-encoding; decisions: nearest-source agreement "
        "on the luma (approximate under JPEG).",
        "",
        "| pair | PSNR dB format-matched | PSNR dB lossless | decisions identical % | s |",
        "|---|---|---|---|---|",
    ]
    for pid, _, p_m, p_raw, near, dt in lytro_rows:
        lines.append(f"| {pid} | {p_m:.2f} | {p_raw:.2f} | {near:.2f} | {dt:.1f} |")
    if lytro_rows:
        m = np.array([r[2:5] for r in lytro_rows], float)
        lines.append(f"| **mean** | **{m[:, 0].mean():.2f}** | {m[:, 1].mean():.2f} | **{m[:, 2].mean():.2f}** | |")
    table = "\n".join(lines)
    print(table)
    if not args.no_doc:
        replace_section(args.doc, table, start=START, end=END)
        print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
