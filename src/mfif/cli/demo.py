"""``mfif demo``: fuse a built-in example pair and write the results to a folder.

The pair is synthesised from scikit-image's astronaut photograph with the α-matte model (the authors'
form, σ = 2): A keeps the astronaut sharp, B the background; the blurred astronaut spreads over the
sharp background in B (defocus spread effect). The foreground mask is a fixed hand-drawn polygon
around the astronaut and her helmet.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from mfif.errors import MfifError

# (x, y) vertices of the astronaut + helmet silhouette in the 512×512 image (drawn by hand).
_POLYGON = [
    (225, 12), (185, 25), (158, 55), (150, 110), (165, 150), (120, 180), (105, 215), (45, 270), (22, 330),
    (18, 420), (20, 511), (511, 511), (511, 450), (480, 370), (420, 345), (362, 335), (350, 270), (300, 235),
    (290, 160), (302, 95), (285, 40), (255, 18),
]


def demo_pair(*, sigma: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The built-in example: (a, b, truth, mask), float32 512×512(×3), mask 1 = A in focus."""
    from skimage import data
    from skimage.draw import polygon

    from mfif.data.synthesis import alpha_matte_pair

    truth = data.astronaut().astype(np.float32) / 255.0
    mask = np.zeros(truth.shape[:2], np.float32)
    xs, ys = zip(*_POLYGON)
    rr, cc = polygon(np.array(ys), np.array(xs), shape=mask.shape)
    mask[rr, cc] = 1.0
    a, b = alpha_matte_pair(truth, mask, sigma=sigma)
    return a.astype(np.float32), b.astype(np.float32), truth, mask


def _cmd(args: argparse.Namespace) -> int:
    from mfif.api import fuse
    from mfif.metrics.reference import band_psnr, psnr
    from mfif.fusion.methods import default_method
    from mfif.io import save_map, write_image

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not out.is_dir():
        raise MfifError(f"--out {out}: not a directory")
    method = args.method or default_method()
    if method == "gff" and args.method is None:
        print("mfif: note: no trained MFIF-GAN weights are installed; the demo uses the classical 'gff' method")
    a, b, truth, mask = demo_pair()
    t0 = time.perf_counter()
    from mfif.registry import get_method

    from mfif.options import AMP_DEFAULTS

    info = get_method(method)
    opts = {"device": args.device, "amp": AMP_DEFAULTS["demo"] if args.amp is None else args.amp} if info.accepts("amp") else {}
    res = fuse([a, b], method=method, **opts)
    dt = time.perf_counter() - t0
    write_image(out / "source_a.png", a)
    write_image(out / "source_b.png", b)
    write_image(out / "fused.png", res.fused)
    if res.decision_map is not None:
        save_map(out / "decision_map.png", res.decision_map)
    if res.focus_map is not None:
        save_map(out / "focus_map.png", res.focus_map)
    panels = [a, b, res.fused]
    if res.decision_map is not None:
        panels.append(np.repeat(res.decision_map[..., None], 3, axis=2))
    write_image(out / "side_by_side.png", np.concatenate(panels, axis=1))
    print(f"method {method}: {dt:.2f} s for a 512x512 pair")
    print(f"PSNR vs the all-in-focus truth: {psnr(res.fused, truth):.2f} dB (whole image), "
          f"{band_psnr(res.fused, truth, mask, 8):.2f} dB (within 8 px of the focus boundary)")
    print(f"wrote {out}/fused.png, side_by_side.png (A | B | fused | map)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="fuse a built-in example and write the results")
    p.add_argument("--out", default="demo-out", help="output folder (created)")
    p.add_argument("--method", default=None, help="fusion method (default as in 'mfif fuse')")
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast for learned methods (default: where the hardware has native bf16, as in 'mfif fuse')")
    p.set_defaults(func=_cmd)
