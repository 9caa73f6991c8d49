#!/usr/bin/env python
"""Known truth at the focus boundary, in both source orders, for methods and inference settings.

Usage::

    python scripts/known_truth.py --pack packs/mf-voc --out bench-out/known-truth [--settings own,s1,builtin]
        [--variants NAME,...] [--device auto] [--limit N]

Pairs are the held-out α-matte pairs of ``mfif bench synthetic`` (``mfif.bench.synthetic``): the pack's
``val`` items at their own σ (``own``), the same at σ = 1 (``s1``), and six scikit-image built-in
images with blob masks (``builtin``, no pack needed). Each pair is fused twice: as built (``near``: A is
the source with the sharp foreground, the order of the training pairs) and swapped (``far``: B, A with
the complementary mask) — a user does not know which photo is focused near, so the mean of the two
orders is what a random order gives. Scores: PSNR against the all-in-focus truth over the image and
within 8 px of the true boundary, IoU of the decision map (``mfif.bench.synthetic._score``); the CSV
also keeps seconds per pair (time is measured properly by ``mfif bench`` and ``benchmarks/``).

A variant is a registry method with fixed options (:data:`VARIANTS`), e.g. ``lite-edge-a-soft`` =
``mfif-gan-lite`` with ``edge_guide='a', soft=True``. Rows go to ``OUT/known_truth.csv`` (resumable:
rows already there are reused) and the summary to ``OUT/known_truth.md``.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

# name -> (registry method, options)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "truth-mask": ("truth-mask", {}),
    "mfif-gan-lite": ("mfif-gan-lite", {}),
    "lite given order": ("mfif-gan-lite", {"order": "given"}),
    "lite --symmetric": ("mfif-gan-lite", {"symmetric": True}),
    "lite --edge-guide auto --soft": ("mfif-gan-lite", {"edge_guide": "auto", "soft": True}),
    "lite given order --edge-guide a --soft": ("mfif-gan-lite", {"order": "given", "edge_guide": "a", "soft": True,
                                                                  "near": "a"}),
    "lite --soft": ("mfif-gan-lite", {"soft": True}),
    "lite --edge-guide a --soft": ("mfif-gan-lite", {"edge_guide": "a", "soft": True}),
    "lite --tta 2 --edge-guide a --soft": ("mfif-gan-lite", {"tta": 2, "edge_guide": "a", "soft": True}),
    "mfif-gan-lite-tta2": ("mfif-gan-lite-tta2", {}),
    "mfif-gan-lite-tta": ("mfif-gan-lite-tta", {}),
    "mfif-gan-lite-tta16-soft": ("mfif-gan-lite-tta16-soft", {}),
    "mfif-gan": ("mfif-gan", {}),
    "mfif-gan-lite-hybrid": ("mfif-gan-lite-hybrid", {}),
    "laplacian-argmax": ("laplacian-argmax", {}),
    "laplacian-energy-15": ("laplacian-energy-15", {}),
    "sml": ("sml", {}),
    "eol": ("eol", {}),
    "lp": ("lp", {}),
    "gff": ("gff", {}),
    "dwt": ("dwt", {}),
    "quadtree": ("quadtree", {}),
    "dsift": ("dsift", {}),
    "sf": ("sf", {}),
}
FIELDS = ["setting", "order", "variant", "pair", "psnr", "psnr_band", "iou", "seconds"]
SETTING_TITLES = {"own": "pack val pairs at their own σ (≈ 1.8)", "s1": "pack val pairs at σ = 1",
                  "builtin": "scikit-image built-in pairs (128², σ = 2, never used in training)"}


def _pairs(setting: str, pack: str | None, limit: int | None) -> list:
    from mfif.bench.synthetic import builtin_pairs, pack_pairs

    if setting == "builtin":
        return builtin_pairs(n=6, size=128, sigma=2.0, seed=0)
    if pack is None:
        raise SystemExit(f"known_truth: setting {setting!r} needs --pack")
    return pack_pairs(pack, split="val", limit=limit, sigma=None if setting == "own" else 1.0, seed=0)


def _swap(p: Any) -> Any:
    return replace(p, a=p.b, b=p.a, mask=(1.0 - p.mask).astype(np.float32))


def _read(path: Path) -> list[dict]:
    from mfif.bench.runner import read_csv

    return read_csv(path) if path.is_file() else []


def summarize(rows: list[dict], variants: list[str]) -> str:
    """Markdown: per setting, one row per variant with near-first / far-first / mean band PSNR."""
    out = []
    for setting in dict.fromkeys(r["setting"] for r in rows):
        rs = [r for r in rows if r["setting"] == setting]

        def mean(v: str, key: str, order: str | None = None) -> float:
            x = np.array([float(r[key]) for r in rs if r["variant"] == v and (order is None or r["order"] == order)])
            x = np.minimum(x, 100.0)  # a perfect pair (inf dB) counts as 100 dB, as in mfif bench synthetic
            x = x[np.isfinite(x)]
            return float(x.mean()) if x.size else math.nan

        n = len({r["pair"] for r in rs})
        ref, ref_near = mean("laplacian-argmax", "psnr_band"), mean("laplacian-argmax", "psnr_band", "near")
        out.append(f"\n### {SETTING_TITLES.get(setting, setting)} ({n} pairs)\n\n"
                   "| Variant | PSNR / band dB, A near | PSNR / band dB, A far (swapped) | band dB, both orders "
                   "| band gain over Laplacian-argmax: A near / both orders | map IoU, A near |\n|:--|--:|--:|--:|--:|--:|\n")
        present = [v for v in variants if any(r["variant"] == v for r in rs)]
        for v in sorted(present, key=lambda v: -mean(v, "psnr_band", "near")):
            def f(x: float, d: int = 2, sign: bool = False) -> str:
                return "–" if not math.isfinite(x) else (f"{x:+.{d}f}" if sign else f"{x:.{d}f}")

            both = {r["order"] for r in rs if r["variant"] == v} == {"near", "far"}
            band = mean(v, "psnr_band") if both else math.nan  # the mean over both orders needs both
            gain = band - ref if both else math.nan
            gain_near = mean(v, "psnr_band", "near") - ref_near
            out.append(f"| {v} | {f(mean(v, 'psnr', 'near'))} / {f(mean(v, 'psnr_band', 'near'))} "
                       f"| {f(mean(v, 'psnr', 'far'))} / {f(mean(v, 'psnr_band', 'far'))} | {f(band)} "
                       f"| {f(gain_near, sign=True)} / {f(gain, sign=True)} | {f(mean(v, 'iou', 'near'), 4)} |\n")
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", default=None, help="pack folder (settings own and s1)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--settings", default="own,s1,builtin")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names of VARIANTS")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--limit", type=int, default=None, help="at most N pack pairs")
    args = ap.parse_args(argv)

    from mfif.bench.runner import write_csv
    from mfif.bench.synthetic import evaluate_synthetic

    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        print(f"known_truth: unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "known_truth.csv"
    rows = _read(csv_path)
    for setting in args.settings.split(","):
        base = _pairs(setting, args.pack, args.limit)
        for order, pairs in (("near", base), ("far", [_swap(p) for p in base])):
            for v in variants:
                method, opts = VARIANTS[v]
                done = {(r["pair"], method): dict(r, method=method) for r in rows
                        if r["setting"] == setting and r["order"] == order and r["variant"] == v}
                if len(done) == len(pairs):
                    continue
                if method != "truth-mask":  # warm-up: weights loaded, caches filled, outside the timing
                    from mfif.api import fuse

                    p0 = pairs[0]
                    fuse([p0.a[:64, :64], p0.b[:64, :64]], method=method, **opts)
                new = evaluate_synthetic(pairs, [method], references=False, device=args.device,
                                         options={method: opts} if opts else None, setting=setting, done=done)
                rows = [r for r in rows if not (r["setting"] == setting and r["order"] == order and r["variant"] == v)]
                rows += [{"setting": setting, "order": order, "variant": v, "pair": r["pair"], "psnr": r["psnr"],
                          "psnr_band": r["psnr_band"], "iou": r["iou"], "seconds": r["seconds"]} for r in new]
                write_csv(csv_path, rows, FIELDS)
                print(f"{setting} {order} {v}: {len(new)} pairs", file=sys.stderr)
    text = ("# Known truth at the focus boundary, both source orders\n\n"
            "`python scripts/known_truth.py " + (f"--pack {args.pack} " if args.pack else "")
            + f"--out {args.out} --settings {args.settings}"
            + (f" --variants \"{args.variants}\"" if args.variants != ",".join(VARIANTS) else "") + "`. "
            "PSNR of the fused image against the all-in-focus truth, over the image and within 8 px of the "
            "true boundary (band); *A near* = pairs as built (A holds the sharp foreground), *A far* = the same "
            "pairs with the sources swapped; *both orders* = the mean over the two, what a random order gives.\n"
            + summarize(rows, variants))
    (out / "known_truth.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
