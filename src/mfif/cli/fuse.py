"""``mfif fuse``: fuse two or more images (or a folder of them) into one all-in-focus image."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mfif.errors import MfifError
from mfif.io import SUPPORTED_SUFFIXES, read_image, save_map, write_image


def add_fusion_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``fuse`` and ``batch``."""
    p.add_argument("--method", default=None, help="fusion method (see 'mfif methods'); default: mfif-gan on a GPU "
                   "when its weights are installed, else mfif-gan-lite")
    p.add_argument("--weights", default=None, help="weights (.safetensors file or folder) for learned methods")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (learned methods)")
    p.add_argument("--align", default="none", choices=["none", "ecc", "homography"], help="register sources to the first")
    p.add_argument("--tile", type=int, default=None, help="tile size for large images (learned methods)")
    p.add_argument("--tile-overlap", type=int, default=None, help="context pixels around each tile")
    p.add_argument("--no-postprocess", action="store_true", help="skip small-region removal (paper ablation)")
    p.add_argument("--min-region-ratio", type=float, default=None, help="small-region threshold as a fraction of H·W (paper 0.001)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast for learned methods; default: on for CUDA GPUs with bf16 and for CPUs with "
                        "native bf16 (AVX512-BF16/AMX, Arm BF16), where mfif-gan-lite runs about 2x faster at the "
                        "same quality (docs/speed.md), else off; --no-amp = float32 (the Python API's default)")
    p.add_argument("--tta", type=int, nargs="?", const=4, default=None, choices=[1, 2, 4, 16], metavar="N",
                   help="test-time augmentation (learned methods): average the focus maps of the 4 flipped "
                        "copies (--tta or --tta 4; 4x compute), of the image and its mirror image "
                        "(--tta 2) or of the flips of 4 shifted copies (--tta 16)")
    p.add_argument("--soft", action="store_true",
                   help="compose with soft weights clip(2·(map − 0.7) + 0.5) instead of the hard pick "
                        "(learned methods; see docs/results.md)")
    p.add_argument("--edge-guide", default=None, choices=["a", "b"],
                   help="snap the focus map to the edges of the near-focus source, A or B (learned methods, "
                        "two sources; guided filter, 3x3 windows; see docs/results.md)")
    p.add_argument("--spread-correction", action="store_true",
                   help="unmix the defocus spread outside the A-region (learned methods; A = near focus; "
                        "needs a pixel-accurate map, see docs/results.md)")
    p.add_argument("--soft-boundary", type=float, default=None, metavar="PX",
                   help="blend with the soft focus map within PX pixels of the decision boundary "
                        "(learned methods; 0 = hard pick everywhere, the paper)")
    p.add_argument("--stack-strategy", default=None, choices=["vote", "sequential"],
                   help="N > 2 sources with a pair method: pairwise votes (default) or sequential fusion")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality for .jpg outputs")


def fusion_kwargs(args: argparse.Namespace) -> dict:
    """Translate parsed options into keyword options for :func:`mfif.api.fuse`."""
    from mfif.registry import get_method
    from mfif.fusion.methods import default_method

    name = args.method or default_method()
    info = get_method(name)
    kw: dict = {"method": name, "align": args.align}
    if getattr(args, "stack_strategy", None):
        if not (info.needs_weights or info.max_inputs == 2):
            raise MfifError(f"--stack-strategy applies to pair methods, and {name!r} fuses N sources natively")
        kw["stack_strategy"] = args.stack_strategy
    if info.needs_weights:
        kw.update(weights=args.weights, device=args.device)
        if args.tile:
            kw["tile"] = args.tile
        if args.tile_overlap is not None:
            kw["tile_overlap"] = args.tile_overlap
        if args.no_postprocess:
            kw["postprocess"] = False
        if args.min_region_ratio is not None:
            kw["min_region_ratio"] = args.min_region_ratio
        kw["amp"] = "auto" if args.amp is None else args.amp
        if getattr(args, "tta", None):
            if args.tile and args.tta > 1:
                raise MfifError("--tta is not combined with --tile: give one of them")
            kw["tta"] = args.tta
        if getattr(args, "soft", False):
            if getattr(args, "soft_boundary", None):
                raise MfifError("--soft and --soft-boundary are alternatives: give one of them")
            kw["soft"] = True
        if getattr(args, "edge_guide", None):
            kw["edge_guide"] = args.edge_guide
        if getattr(args, "spread_correction", False):
            kw["spread_correction"] = True
        if getattr(args, "soft_boundary", None) is not None:
            if args.soft_boundary < 0:
                raise MfifError(f"--soft-boundary must be >= 0, got {args.soft_boundary}")
            kw["soft_boundary"] = args.soft_boundary
    else:
        for flag, val in (("--weights", args.weights), ("--tile", args.tile), ("--amp/--no-amp", args.amp),
                          ("--no-postprocess", args.no_postprocess or None), ("--min-region-ratio", args.min_region_ratio),
                          ("--soft-boundary", getattr(args, "soft_boundary", None)),
                          ("--tta", getattr(args, "tta", None)), ("--soft", getattr(args, "soft", False) or None),
                          ("--edge-guide", getattr(args, "edge_guide", None))):
            if val is not None:
                raise MfifError(f"{flag} applies to learned methods only, not {name!r}")
    return kw


def expand_inputs(paths: list[str], *, exclude: Path | None = None) -> list[Path]:
    """Source paths; a single folder expands to its images in name order (``exclude`` left out)."""
    if len(paths) == 1 and Path(paths[0]).is_dir():
        d = Path(paths[0])
        ex = exclude.resolve() if exclude is not None else None
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES
                       and not p.name.startswith(".") and p.resolve() != ex)
        if len(files) < 2:
            raise MfifError(f"{d}: folder holds fewer than two images")
        return files
    if len(paths) < 2:
        raise MfifError("give at least two source images (or one folder of them)")
    return [Path(p) for p in paths]


def run_fusion(sources: list[Path], out: Path, args: argparse.Namespace, *, map_path: Path | None = None,
               depth_path: Path | None = None) -> Path:
    """Read, fuse and write one item; used by ``fuse`` and ``batch``."""
    from mfif.api import fuse

    src_res = [Path(s).resolve() for s in sources]
    if out.resolve() in src_res:
        raise MfifError(f"{out}: output path is one of the inputs; refusing to overwrite it")
    imgs, infos = [], []
    for s in sources:
        img, info = read_image(s)
        imgs.append(img)
        infos.append(info)
    result = fuse(imgs, names=[str(s) for s in sources], **fusion_kwargs(args))
    depth = max(i.bit_depth for i in infos)
    first = infos[0]
    written = write_image(out, result.fused, bit_depth=depth, exif=first.exif, icc_profile=first.icc_profile,
                          jpeg_quality=args.quality)
    if map_path is not None:
        m = result.decision_map if result.decision_map is not None else result.focus_map
        if m is None:
            raise MfifError(f"--map: method {result.extras.get('method')!r} produces no focus map")
        save_map(map_path, m)
    if depth_path is not None:
        if result.depth_map is None:
            if result.decision_map is None:
                raise MfifError(f"--depth-map: method {result.extras.get('method')!r} produces no decision map")
            dm = np.where(result.decision_map > 0.5, 0, 1).astype(np.int32)
        else:
            dm = result.depth_map.astype(np.int32)
        n = len(sources)
        write_image(depth_path, dm.astype(np.float32) / max(1, n - 1), bit_depth=8 if n <= 256 else 16)
    return written


def _cmd(args: argparse.Namespace) -> int:
    out = Path(args.output)
    sources = expand_inputs(args.inputs, exclude=out)
    written = run_fusion(sources, out, args, map_path=Path(args.map) if args.map else None,
                         depth_path=Path(args.depth_map) if args.depth_map else None)
    print(f"wrote {written}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fuse", help="fuse two or more images of one scene",
                       description="Fuse N >= 2 source images (or a folder of them) into one all-in-focus image.")
    p.add_argument("inputs", nargs="+", help="source images A B [C ...] or one folder")
    p.add_argument("-o", "--output", required=True, help="output image (format from the extension; PNG default)")
    p.add_argument("--map", default=None, help="also write the final decision map (PNG)")
    p.add_argument("--depth-map", default=None,
                   help="also write the index of the source chosen per pixel (gray levels 0..255 spread over the N sources)")
    add_fusion_options(p)
    p.set_defaults(func=_cmd)
