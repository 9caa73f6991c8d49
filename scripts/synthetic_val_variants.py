#!/usr/bin/env python
"""Held-out synthetic validation of generator weights, clean and under real-photo degradations.

Usage::

    python scripts/synthetic_val_variants.py --pack packs/mf-voc-val \\
        old=src/mfif/weights/mfif-gan-lite.safetensors new=runs/X/best [...] [--out FILE.md]

Pairs: the pack's ``val`` items (64), α-matte at σ = 1 — the trainer's validation pairs. Variants:

* ``clean``: the trainer's validation (224² centre crop), scored the same way (hard pick of the
  network's map, fused PSNR against the all-in-focus truth, pooled over the 64 pairs; ``band`` =
  within 8 px of the true boundary);
* ``jpeg75``: the same pairs, the network sees A and B JPEG-compressed at quality 75 (the fused image
  composes the uncompressed sources, so only the map's errors count);
* ``small``: image and mask first shrunk to 0.6× (area averaging), then synthesised at σ = 1 and
  scored on the 132² centre (of 134² — finer detail per pixel, like the small real test photos);
* ``small+jpeg75``: both;
* ``exp0.93`` / ``exp1.07`` (with ``--variants``): the clean pairs with B multiplied by 0.93 / 1.07 at the
  network input (clipped to [0, 1]): two exposures of one scene (docs/real-pairs.md §7);
* ``disk`` / ``ring`` (with ``--variants``, combinable with ``+``): the pairs synthesised with the pill-box
  of radius 2σ or its outer 1 px ring (a bright-rimmed lens blur that doubles thin lines) instead of the
  Gaussian; ``s2`` (or any ``sX``): at σ = X instead of 1, e.g. ``ring+s2``.

Every candidate runs in float32 on the CPU with the same pairs. The score used to choose between
checkpoints of one run is the mean band PSNR over the variants given (``mean band``; by default the
first four). No real photograph takes part.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

VARIANTS = ("clean", "jpeg75", "small", "small+jpeg75")
ALL_VARIANTS = (*VARIANTS, "exp0.93", "exp1.07")


def _is_sigma(token: str) -> bool:
    """A variant token ``sX`` (σ = X, e.g. ``s2``, ``s1.5``)."""
    return token[:1] == "s" and token[1:].replace(".", "", 1).isdigit()


def build(pack: str, variant: str, *, limit: int) -> list[dict[str, torch.Tensor]]:
    """One variant's batches: keys a, b (clean), a_in, b_in (network inputs), mask, truth, band."""
    from mfif.data.dataset import SyntheticPairDataset
    from mfif.data.pack import Pack
    from mfif.data.synthesis import jpeg_roundtrip
    from mfif.metrics.reference import boundary_band
    from mfif.training.validation import BAND_PX

    src = Pack(pack)
    idx = src.indices("val")[:limit]
    tokens = variant.split("+")
    small = "small" in tokens
    kernel = "ring" if "ring" in tokens else "disk" if "disk" in tokens else "gaussian"
    sigma = next((float(t[1:]) for t in tokens if _is_sigma(t)), 1.0)
    ds = SyntheticPairDataset(src, crop=132 if small else 224, sigma=sigma, augment=False, seed=0, indices=idx,
                              scale=0.6 if small else 1.0, disk_p=float(kernel == "disk"),
                              ring_p=float(kernel == "ring"))
    out = []
    for i in range(len(ds)):
        s = ds.sample(i)
        a_in, b_in = s["a"], s["b"]
        if variant.endswith("jpeg75"):
            a_in, b_in = jpeg_roundtrip(s["a"], 75), jpeg_roundtrip(s["b"], 75)
        if variant.startswith("exp"):
            b_in = np.clip(s["b"] * np.float32(float(variant[3:])), 0.0, 1.0).astype(np.float32)

        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]

        out.append({"a": t(s["a"]), "b": t(s["b"]), "a_in": t(a_in), "b_in": t(b_in), "truth": t(s["truth"]),
                    "mask": torch.from_numpy(s["mask"])[None, None],
                    "band": torch.from_numpy(boundary_band(s["mask"], BAND_PX))[None, None]})
    return out


@torch.no_grad()
def score(model: torch.nn.Module, batches: list[dict[str, torch.Tensor]], *, match: bool = False) -> dict[str, float]:
    from mfif.fusion.inference import exposure_matched
    from mfif.training.validation import ValAccumulator

    acc = ValAccumulator()
    for bt in batches:
        a_in, b_in = bt["a_in"], bt["b_in"]
        if match:  # match_exposure: both network inputs scaled to their common mean
            a_in, b_in = (torch.from_numpy(x) for x in exposure_matched(a_in.numpy(), b_in.numpy()))
        pred = model(a_in, b_in)
        acc.add(pred.float(), bt["mask"], bt["a"], bt["b"], bt["truth"], bt["band"])
    return acc.result()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weights", nargs="+", help="NAME=PATH (a .safetensors file or an exported folder)")
    ap.add_argument("--pack", default="packs/mf-voc-val")
    ap.add_argument("--limit", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="also write the table to this Markdown file")
    ap.add_argument("--match-exposure", action="store_true",
                    help="also score every weights set with exposure-matched inputs (rows NAME+match)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"comma-separated, of {', '.join(ALL_VARIANTS)}, or disk / ring / sX tokens joined by '+' "
                         "(default: the first four)")
    args = ap.parse_args(argv)
    variants = tuple(v for v in args.variants.split(",") if v)
    def known(v: str) -> bool:
        return v in ALL_VARIANTS or all(t in ("small", "jpeg75", "disk", "ring") or _is_sigma(t) for t in v.split("+"))

    if not variants or not all(known(v) for v in variants):
        ap.error(f"--variants: choose from {', '.join(ALL_VARIANTS)}, or disk / ring / sX combined with '+'")
    torch.set_num_threads(args.threads)
    from mfif.models.weights import load_generator

    cands = []
    for w in args.weights:
        if "=" not in w:
            ap.error(f"{w}: expected NAME=PATH")
        name, path = w.split("=", 1)
        cands.append((name, load_generator(path)))
    t0 = time.time()
    data = {v: build(args.pack, v, limit=args.limit) for v in variants}
    rows = []
    for name, model in cands:
        for match in (False, True) if args.match_exposure else (False,):
            res = {v: score(model, data[v], match=match) for v in variants}
            mean_band = float(np.mean([res[v]["psnr_band"] for v in variants]))
            rows.append((name + ("+match" if match else ""), res, mean_band))
    ref = {v: score_ref(data[v]) for v in variants}
    head = "| weights | " + " | ".join(f"{v} PSNR / band" for v in variants) + " | mean band |"
    lines = [head, "|" + "---|" * (len(variants) + 2)]
    for name, res, mb in rows:
        cells = [f"{res[v]['psnr']:.2f} / {res[v]['psnr_band']:.2f}" for v in variants]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {mb:.2f} |")
    lines.append("| true-mask hard pick | " + " | ".join(f"{ref[v][0]:.2f} / {ref[v][1]:.2f}" for v in variants)
                 + " | |")
    text = "\n".join(lines)
    print(text)
    print(f"({len(data['clean'])} val pairs per variant, {time.time() - t0:.0f} s)", file=sys.stderr)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


def score_ref(batches: list[dict[str, torch.Tensor]]) -> tuple[float, float]:
    from mfif.training.validation import ValAccumulator

    acc = ValAccumulator()
    for bt in batches:
        acc.add(bt["mask"].float(), bt["mask"], bt["a"], bt["b"], bt["truth"], bt["band"])
    r = acc.result()
    return r["psnr"], r["psnr_band"]


if __name__ == "__main__":
    raise SystemExit(main())
