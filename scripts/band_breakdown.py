"""Where in the boundary band the fused error sits: MSE and wrong-pick rate by signed distance to the
true boundary (+ inside the A region), mfif-gan-lite vs laplacian-argmax vs the true-mask pick, on a
pack's held-out pairs.

Usage:
    python scripts/band_breakdown.py packs/mf-voc [--weights W.safetensors] [--device cpu] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from mfif.bench.synthetic import pack_pairs
from mfif.registry import get_method


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pack", type=Path, help="pack folder (its val split is used)")
    ap.add_argument("--weights", default=None, help="lite weights (default: the shipped ones)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--limit", type=int, default=None, help="at most N pairs")
    args = ap.parse_args(argv)
    if not args.pack.is_dir():
        print(f"band_breakdown: {args.pack}: no such pack folder", file=sys.stderr)
        return 2
    pairs = pack_pairs(args.pack, split="val", limit=args.limit)
    lite, lap = get_method("mfif-gan-lite").fn, get_method("laplacian-argmax").fn
    opts = {"device": args.device, **({"weights": args.weights} if args.weights else {})}
    bins = np.arange(-8, 9)
    acc = {k: np.zeros(len(bins)) for k in ("lite", "lap", "truth")}
    cnt, wrong, wrongl = np.zeros(len(bins)), np.zeros(len(bins)), np.zeros(len(bins))
    for p in pairs:
        m = p.mask > 0.5
        if m.all() or not m.any():
            continue
        d = np.where(m, ndimage.distance_transform_edt(m), -ndimage.distance_transform_edt(~m))  # + inside (A sharp)
        di = np.clip(np.round(d), -8, 8).astype(int)
        rl, rp = lite([p.a, p.b], **opts), lap([p.a, p.b])
        tm = np.where(m[..., None], p.a, p.b)
        for k, f in (("lite", rl.fused), ("lap", rp.fused), ("truth", tm)):
            e = ((f - p.truth) ** 2).mean(-1)
            for i, b in enumerate(bins):
                acc[k][i] += e[di == b].sum()
        for i, b in enumerate(bins):
            sel = di == b
            cnt[i] += sel.sum()
            wrong[i] += ((rl.decision_map > 0.5) != m)[sel].sum()
            wrongl[i] += ((rp.decision_map > 0.5) != m)[sel].sum()
    print("dist(+in A) | MSE×1e5 lite / lap / truth | wrong-pick % lite / lap")
    for i, b in enumerate(bins):
        if b == 0 or cnt[i] == 0:
            continue
        print(f"{b:+3d} | {1e5 * acc['lite'][i] / cnt[i]:7.2f} {1e5 * acc['lap'][i] / cnt[i]:7.2f} "
              f"{1e5 * acc['truth'][i] / cnt[i]:7.2f} | {100 * wrong[i] / cnt[i]:5.2f} {100 * wrongl[i] / cnt[i]:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
