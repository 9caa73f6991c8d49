"""``mfif synth PACK``: synthesise multi-focus pairs from a pack (preview grid and/or files).

``mfif synth PACK --preview grid.png`` writes a grid whose rows are samples and whose columns are
all-in-focus | A | B | mask. ``--out DIR`` writes ``DIR/{sourceA,sourceB,mask,groundtruth}/NNNNN.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mfif.errors import MfifError


def _parse_sigma(text: str) -> float | tuple[float, float]:
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        raise MfifError(f"--sigma: expected a number or LO,HI, got {text!r}") from None
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return (parts[0], parts[1])
    raise MfifError(f"--sigma: expected a number or LO,HI, got {text!r}")


def _run(args: argparse.Namespace) -> int:
    from mfif.data.dataset import SyntheticPairDataset
    from mfif.io import write_image

    if not args.preview and not args.out:
        raise MfifError("synth: give --preview FILE and/or --out DIR")
    ds = SyntheticPairDataset(
        args.pack, crop=args.crop, model=args.model, sigma=_parse_sigma(args.sigma), augment=not args.no_augment,
        seed=args.seed, split=None if args.split == "all" else args.split, literal=args.literal,
        length=max(args.count, 1),
    )
    n = args.count
    samples = [ds.sample(i) for i in range(n)]
    if args.preview:
        rows = []
        for s in samples:
            m3 = np.repeat(s["mask"][..., None], 3, axis=2)
            pad = np.ones((s["truth"].shape[0], 2, 3), np.float32)
            rows.append(np.concatenate([s["truth"], pad, s["a"], pad, s["b"], pad, m3], axis=1))
        width = rows[0].shape[1]
        sep = np.ones((2, width, 3), np.float32)
        grid = np.concatenate([x for r in rows for x in (r, sep)][:-1], axis=0)
        write_image(args.preview, grid)
        print(f"wrote {args.preview}: {n} samples (truth | A | B | mask), model={args.model}, sigma={args.sigma}")
    if args.out:
        out = Path(args.out)
        for k, s in enumerate(samples):
            for key, sub in (("a", "sourceA"), ("b", "sourceB"), ("truth", "groundtruth"), ("mask", "mask")):
                (out / sub).mkdir(parents=True, exist_ok=True)
                write_image(out / sub / f"{k:05d}.png", s[key])
        print(f"wrote {n} samples to {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("synth", help="synthesise multi-focus pairs from a training pack")
    p.add_argument("pack", help="pack folder (mfif data pack)")
    p.add_argument("--preview", default=None, help="write a grid PNG of samples (truth | A | B | mask)")
    p.add_argument("--out", default=None, help="write the samples as PNG files under this folder")
    p.add_argument("--count", type=int, default=8, help="number of samples (default 8)")
    p.add_argument("--model", choices=("alpha", "conventional"), default="alpha")
    p.add_argument("--literal", action="store_true", help="paper's literal eqs. 10-11 (dark fringe)")
    p.add_argument("--sigma", default="1.0", help="blur sigma or LO,HI range (default 1.0)")
    p.add_argument("--crop", type=int, default=128, help="crop size (default 128)")
    p.add_argument("--split", choices=("train", "val", "all"), default="train")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-augment", action="store_true", help="centre crops, no flips/rotations")
    p.set_defaults(func=_run)
