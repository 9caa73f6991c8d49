"""``mfif fuse``: fuse two or more images (or a folder of them) into one all-in-focus image."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from mfif.errors import MfifError
from mfif.io import INPUT_SUFFIXES, RAW_SUFFIXES, SUPPORTED_SUFFIXES, natural_sorted, read_frames
from mfif.options import add_cli_flags, given_cli_options


def add_fusion_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``fuse`` and ``batch``: the method, its weights, alignment, the declared
    options of :mod:`mfif.options` (one flag each, all defaulting to "not given") and the stack strategy."""
    p.add_argument("--method", default=None, help="fusion method (see 'mfif methods'); default: mfif-gan on a GPU "
                   "when its weights are installed, else mfif-gan-lite")
    p.add_argument("--weights", default=None, help="weights (.safetensors file or folder) for learned methods")
    p.add_argument("--align", default="none", choices=["none", "ecc", "homography"], help="register sources to the first")
    p.add_argument("--order", default="auto", choices=["auto", "given"],
                   help="two sources: auto = the result does not depend on which photo comes first (the method gets "
                        "the near-focus photo first; default), given = as given (the paper's protocol)")
    add_cli_flags(p)
    p.add_argument("--stack-strategy", default=None, choices=["vote", "sequential"],
                   help="N > 2 sources with a learned (pair) method: pairwise votes (default) or sequential fusion")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality for .jpg outputs")


def fusion_kwargs(args: argparse.Namespace, *, n_sources: int | None = None) -> dict:
    """Translate parsed options into keyword options for :func:`mfif.api.fuse`, checked once against the
    method's declared options (:func:`mfif.registry.check_options`): an option the method does not take,
    or a value out of range, is one :class:`MfifError`. Learned methods get the CLI's ``amp`` default
    (:data:`mfif.options.AMP_DEFAULTS`)."""
    from mfif.fusion.methods import default_method
    from mfif.options import AMP_DEFAULTS, LEARNED_OPTIONS, split_options
    from mfif.registry import check_options, get_method

    kw = given_cli_options(args)
    kw.update(weights=args.weights, stack_strategy=getattr(args, "stack_strategy", None))
    name = args.method or default_method(n_sources or 2, [k for k, v in kw.items() if v is not None],
                                         weights=kw.get("weights"))
    info = get_method(name)
    check_options(info, kw, n_sources=n_sources, cli=True)
    kw = {k: v for k, v in kw.items() if v is not None}
    if info.accepts("amp"):
        kw.setdefault("amp", AMP_DEFAULTS["cli"])
    split_options({k: v for k, v in kw.items() if k in LEARNED_OPTIONS})  # value checks, before any work
    return {"method": name, "align": args.align, "order": getattr(args, "order", "auto"), **kw}


def expand_inputs(paths: list[str], *, exclude: Path | list[Path] | None = None) -> list[Path]:
    """Source files of ``mfif fuse``.

    A single folder expands to its image files in natural name order (``z2`` before ``z10``, as
    ``mfif batch`` orders stack members), leaving out hidden files and ``exclude`` (the outputs);
    a single file is accepted when it is a TIFF (a multi-page z-stack, checked when it is read).

    Raises:
        MfifError: fewer than two sources.
    """
    excl = [exclude] if isinstance(exclude, Path) else list(exclude or [])
    if len(paths) == 1 and Path(paths[0]).is_dir():
        d = Path(paths[0])
        files = natural_sorted([p for p in d.iterdir() if p.suffix.lower() in INPUT_SUFFIXES and p.is_file()
                                and not p.name.startswith(".") and not any(same_path(p, e) for e in excl)])
        if len(files) == 1 and files[0].suffix.lower() in (".tif", ".tiff"):
            return files
        if len(files) < 2:
            raise MfifError(f"{d}: folder holds fewer than two images")
        return files
    if len(paths) == 1 and Path(paths[0]).suffix.lower() in (".tif", ".tiff"):
        return [Path(paths[0])]
    if len(paths) < 2:
        raise MfifError("give at least two source images, one folder of them, or one multi-page TIFF z-stack")
    return [Path(p) for p in paths]


def same_path(a: Path | str, b: Path | str) -> bool:
    """True if ``a`` and ``b`` name the same file: the same inode when both exist (symlinks, hard
    links, letter case on case-insensitive file systems), else equal resolved, case-normalised paths."""
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    na = os.path.normcase(os.path.realpath(a))
    nb = os.path.normcase(os.path.realpath(b))
    return na == nb


def derived_output(target: Path, sources: list[Path], role: str, *, folder_input: Path | None = None) -> Path:
    """Where an output named by an existing folder goes: ``FOLDER/<name>_<role><ext>`` with ``name`` the
    input folder's name (folder input) or the first source's stem; ``ext`` the first source's extension
    for the fused image (``.tif`` for RAW, ``.png`` for HEIF sources) and ``.png`` for maps."""
    name = folder_input.resolve().name if folder_input is not None else sources[0].stem
    if role == "fused":
        suf = sources[0].suffix.lower()
        ext = suf if suf in SUPPORTED_SUFFIXES else ".tif" if suf in RAW_SUFFIXES else ".png"
    else:
        ext = ".png"
    return target / f"{name}_{role}{ext}"


def check_paths(inputs: list[Path], outputs: dict[str, Path]) -> None:
    """Refuse any output that is an input, or two outputs that are one file.

    Args:
        inputs: Source files (existing).
        outputs: Option name (``-o``, ``--map``, ``--depth-map``) -> final output path.

    Raises:
        MfifError: one line naming both paths.
    """
    items = list(outputs.items())
    for flag, out in items:
        if out.exists() and out.is_dir():
            raise MfifError(f"{flag} {out}: is a folder")
        if out.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise MfifError(f"{flag} {out}: unsupported output format {out.suffix!r} (use one of "
                            f"{', '.join(SUPPORTED_SUFFIXES)})")
        parent = out.parent if str(out.parent) else Path(".")
        if not parent.is_dir():
            raise MfifError(f"{flag} {out}: output directory {parent} does not exist")
        for src in inputs:
            if same_path(out, src):
                raise MfifError(f"{flag} {out}: is the input {src}; refusing to overwrite it")
    for i, (f1, o1) in enumerate(items):
        for f2, o2 in items[i + 1:]:
            if same_path(o1, o2) or os.path.normcase(os.path.realpath(o1)).casefold() == \
                    os.path.normcase(os.path.realpath(o2)).casefold():
                raise MfifError(f"{f1} {o1} and {f2} {o2} name the same file (or differ only in letter case); "
                                "give different outputs")


def load_sources(sources: list[Path], *, tiff_axes: str | None = None, progress: bool = False,  # noqa: ANN201
                 native: bool = False):
    """Read every source file as frames (a TIFF z-stack gives several).

    Args:
        native: Keep 8- and 16-bit frames as uint8 / uint16 (:func:`mfif.io.read_frames`); see
            :func:`to_float_frames`.

    Returns:
        ``(images, infos, names)``: float32 [0, 1] frames (or as stored, with ``native``), their
        :class:`~mfif.io.ImageInfo`, and names for messages (``file`` or ``file[frame k]``).

    Raises:
        MfifError: an unreadable file, or fewer than two frames in all.
    """
    import time

    t0, bar = time.perf_counter(), None
    imgs, infos, names = [], [], []
    try:
        for k, s in enumerate(sources):
            if bar is not None:
                bar.update(1)
            elif progress and k < len(sources) - 1 and time.perf_counter() - t0 > 2.0:  # a bar once it takes a while
                from tqdm import tqdm

                bar = tqdm(total=len(sources), initial=k, desc="reading", unit="file", file=sys.stderr, leave=False)
            tif = Path(s).suffix.lower() in (".tif", ".tiff")
            for img, info in read_frames(s, tiff_axes=tiff_axes if tif else None, native=native):
                imgs.append(img)
                infos.append(info)
                names.append(str(s) if info.n_frames == 1 else f"{s}[frame {info.frame}]")
    finally:
        if bar is not None:
            bar.close()
    if len(imgs) < 2:
        raise MfifError(f"{sources[0]}: holds one image; fusion needs at least two frames")
    return imgs, infos, names


def to_float_frames(imgs: list[np.ndarray]) -> list[np.ndarray]:
    """uint8 / uint16 frames → float32 [0, 1], in place, one at a time (the list is returned)."""
    from mfif.io import frame_to_float

    for k, im in enumerate(imgs):
        if im.dtype in (np.uint8, np.uint16):
            imgs[k] = frame_to_float(im)
    return imgs


def check_frames(imgs: list[np.ndarray], names: list[str], *, align: str = "none") -> None:
    """Checks that need no fusion code: every frame at least 8 x 8, equal sizes unless aligned."""
    for im, nm in zip(imgs, names):
        if min(im.shape[:2]) < 8:
            raise MfifError(f"{nm}: image is {im.shape[1]}x{im.shape[0]}, smaller than the 8x8 minimum")
    if align == "none":
        h, w = imgs[0].shape[:2]
        for im, nm in zip(imgs[1:], names[1:]):
            if im.shape[:2] != (h, w):
                raise MfifError(f"{nm}: size {im.shape[1]}x{im.shape[0]} differs from {names[0]} ({w}x{h}); "
                                "use --align ecc to register frames of different sizes")


def _z_step(args: argparse.Namespace, infos: list) -> float | None:
    z = getattr(args, "z_step", None)
    if z is not None:
        if not (z > 0 and np.isfinite(z)):
            raise MfifError(f"--z-step must be a positive number, got {z}")
        return float(z)
    return infos[0].physical_size.get("z")


def run_fusion(sources: list[Path], out: Path, args: argparse.Namespace, *, map_path: Path | None = None,
               depth_path: Path | None = None, loaded: tuple | None = None, report: bool = False) -> Path:
    """Read, fuse and write one item; used by ``fuse`` and ``batch``.

    Every check that needs no fusion code (paths, reading, sizes) runs first; the outputs are encoded
    into temporary files and renamed into place only when all are ready, so a failure leaves none.

    Args:
        sources: Source files (a TIFF z-stack counts its frames).
        out: Fused image path; ``map_path`` / ``depth_path`` the optional maps.
        args: Parsed options (:func:`add_fusion_options`, plus ``tiff_axes``, ``z_step``, ``quality``).
        loaded: ``load_sources`` result when the caller has read the sources already.
        report: Print the method, frame count, time and every file written (``mfif fuse``).

    Returns:
        The fused image's path.
    """
    import time

    from mfif.io import encode_image, output_path

    outs = {"-o": output_path(out)}
    if map_path is not None:
        outs["--map"] = output_path(map_path)
    if depth_path is not None:
        outs["--depth-map"] = output_path(depth_path)
    check_paths([Path(s) for s in sources], outs)
    # frames are read as stored (8/16 bits); a streaming method with N > 2 (mfif-stack) takes them so,
    # every other method gets float32 copies
    imgs, infos, names = loaded if loaded is not None else load_sources(
        sources, tiff_axes=getattr(args, "tiff_axes", None), progress=report, native=True)
    check_frames(imgs, names, align=getattr(args, "align", "none"))
    z_step = _z_step(args, infos)
    kwargs = fusion_kwargs(args, n_sources=len(imgs))
    from mfif.registry import get_method

    streams = get_method(kwargs["method"]).streams and len(imgs) > 2
    if not streams:
        to_float_frames(imgs)
    if report:
        h, w = imgs[0].shape[:2]
        print(f"mfif: fusing {len(imgs)} frames ({w}x{h}) with {kwargs['method']} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    from mfif.api import fuse

    bar = None
    if report and len(imgs) > 2:
        from tqdm.auto import tqdm

        bar = tqdm(total=None, desc="frames" if streams else "pair fusions", unit="frame" if streams else "pair",
                   file=sys.stderr, leave=False, delay=2.0)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        result = fuse(imgs, names=names, progress=progress if bar is not None else None, **kwargs)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t0
    first = infos[0]
    depth = max(i.bit_depth for i in infos)
    meta = dict(resolution=first.resolution, resolution_unit=first.resolution_unit, physical_size=first.physical_size)
    maps: list[tuple[str, Path, np.ndarray, dict]] = []
    if map_path is not None:
        m = result.decision_map if result.decision_map is not None else result.focus_map
        if m is None:
            raise MfifError(f"--map: method {result.extras.get('method')!r} produces no focus map")
        maps.append(("--map", outs["--map"], np.asarray(m, np.float32), dict(bit_depth=8, **meta)))
    if depth_path is not None:
        if result.depth_map is None:
            if result.decision_map is None:
                raise MfifError(f"--depth-map: method {result.extras.get('method')!r} produces no decision map")
            dm = np.where(result.decision_map > 0.5, 0, 1).astype(np.int32)
        else:
            dm = result.depth_map.astype(np.int32)
        n = len(imgs)
        dpath = outs["--depth-map"]
        if z_step is not None and dpath.suffix.lower() in (".tif", ".tiff"):
            unit = first.physical_size.get("unit", "")
            maps.append(("--depth-map", dpath, dm.astype(np.float32) * np.float32(z_step),
                         dict(bit_depth=32, description=f"mfif depth map: z of the sharpest frame, step {z_step:g} "
                              f"{unit}".rstrip(), **{k: v for k, v in meta.items() if k != "physical_size"})))
        else:
            maps.append(("--depth-map", dpath, dm.astype(np.float32) / max(1, n - 1),
                         dict(bit_depth=8 if n <= 256 else 16, **meta)))
    pending = []
    try:
        pending.append(encode_image(outs["-o"], result.fused, bit_depth=depth, exif=first.exif,
                                    icc_profile=first.icc_profile, jpeg_quality=getattr(args, "quality", 95),
                                    description=first.description, **meta))
        for _, path, arr, kw in maps:
            pending.append(encode_image(path, arr, **kw))
        written = [pw.publish() for pw in pending]
    except BaseException:
        for pw in pending:
            pw.discard()
        raise
    if report:
        print(f"mfif: {kwargs['method']} fused {len(imgs)} frames in {elapsed:.2f} s", file=sys.stderr)
        for w_ in written:
            print(f"wrote {w_}")
    return written[0]


def _cmd(args: argparse.Namespace) -> int:
    raw_out = str(args.output)
    out = Path(raw_out)
    folder_in = Path(args.inputs[0]) if len(args.inputs) == 1 and Path(args.inputs[0]).is_dir() else None
    if raw_out.endswith(("/", os.sep)) and not out.is_dir():
        raise MfifError(f"-o {raw_out}: folder does not exist")
    given = {"fused": out, "map": Path(args.map) if args.map else None,
             "depth": Path(args.depth_map) if args.depth_map else None}
    sources = expand_inputs(args.inputs, exclude=[p for p in given.values() if p is not None])

    def resolve(srcs: list[Path]) -> dict[str, Path | None]:
        return {role: derived_output(p, srcs, role, folder_input=folder_in) if p is not None and p.is_dir() else p
                for role, p in given.items()}

    outs = resolve(sources)
    if folder_in is not None:  # outputs of an earlier run written into the input folder are no frames
        kept = [s for s in sources if not any(o is not None and same_path(s, o) for o in outs.values())]
        if len(kept) != len(sources):
            sources = kept if len(kept) > 1 or (kept and kept[0].suffix.lower() in (".tif", ".tiff")) else \
                expand_inputs([str(folder_in)], exclude=[o for o in outs.values() if o is not None])
            outs = resolve(sources)
    run_fusion(sources, outs["fused"], args, map_path=outs["map"], depth_path=outs["depth"], report=True)
    return 0


def add_input_options(p: argparse.ArgumentParser) -> None:
    """Options about reading the sources (``fuse`` and ``batch``)."""
    p.add_argument("--tiff-axes", default=None, metavar="AXES",
                   help="axes of a multi-page TIFF when its metadata leave them ambiguous, one letter per stored "
                        "axis: Z frames (focal planes), Y, X, S colour samples; e.g. ZYX, ZYXS")
    p.add_argument("--z-step", type=float, default=None, metavar="STEP",
                   help="distance between focal planes; a .tif depth map then holds z (index x STEP) instead of "
                        "indices (default: PhysicalSizeZ / ImageJ spacing of an OME/ImageJ stack)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fuse", help="fuse two or more images of one scene",
                       description="Fuse N >= 2 source images (or a folder of them, in natural name order, or one "
                                   "multi-page TIFF z-stack) into one all-in-focus image.")
    p.add_argument("inputs", nargs="+", help="source images A B [C ...], one folder, or one multi-page TIFF")
    p.add_argument("-o", "--output", required=True,
                   help="output image (format from the extension; PNG default); an existing folder gets "
                        "NAME_fused.EXT (NAME: the first source's stem or the input folder's name)")
    p.add_argument("--map", default=None, help="also write the final decision map (PNG)")
    p.add_argument("--depth-map", default=None,
                   help="also write the index of the source chosen per pixel (gray levels 0..255 spread over the N "
                        "sources; a .tif path with a known z step holds z values)")
    add_input_options(p)
    add_fusion_options(p)
    p.set_defaults(func=_cmd)
