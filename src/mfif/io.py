"""Reading and writing images: 8/16-bit, gray/RGB, multi-page TIFF stacks, RAW, HEIF, atomic writes.

Public convention (see docs/conventions.md): images are numpy float32 arrays in [0, 1], H x W (gray)
or H x W x 3 (RGB). :func:`read_image` returns such an array plus an :class:`ImageInfo` that remembers
the source bit depth and metadata so :func:`write_image` can write the result back at the same depth.
:func:`read_frames` reads any input file as a list of frames: one for a photo, N for a multi-page
(ImageJ, OME or plain) TIFF z-stack.

This module imports neither torch nor the fusion methods, so the command line can check every input
before the slow imports.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mfif.errors import MfifError

#: Formats read and written.
SUPPORTED_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
#: Camera RAW formats read with rawpy (LibRaw), the ``mfif[raw]`` extra.
RAW_SUFFIXES = (".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw")
#: HEIF formats read with pillow-heif, the ``mfif[heif]`` extra.
HEIF_SUFFIXES = (".heic", ".heif", ".hif")
#: Every input format: :data:`SUPPORTED_SUFFIXES` plus RAW and HEIF.
INPUT_SUFFIXES = SUPPORTED_SUFFIXES + RAW_SUFFIXES + HEIF_SUFFIXES
#: Axis letters (tifffile's) that hold focal planes / frames; ``S`` holds colour samples.
FRAME_AXES = "ZTIQ"


def natural_key(s: str) -> list:
    """Sort key that orders embedded numbers numerically (``z2`` < ``z10``), case-insensitively."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", s) if t != ""]


def natural_sorted(paths: "Sequence[Path]") -> list[Path]:
    """Paths sorted by :func:`natural_key` of their names (the order of ``fuse FOLDER`` and ``batch``)."""
    return sorted(paths, key=lambda p: natural_key(Path(p).name))


@dataclass
class ImageInfo:
    """Metadata of a read image.

    Attributes:
        path: Where it was read from.
        bit_depth: 8 or 16 (bits per sample of the stored file).
        channels: 1 (gray) or 3 (RGB) after dropping alpha.
        had_alpha: True if an alpha channel was dropped.
        exif: Raw EXIF bytes (as Pillow reads them, ``Exif\\0\\0`` prefix or none), if present.
        icc_profile: Raw ICC profile bytes, if present.
        resolution: TIFF X/Y resolution (pixels per ``resolution_unit``), if present.
        resolution_unit: TIFF ResolutionUnit (1 none, 2 inch, 3 centimetre), if ``resolution`` is set.
        description: A free-text TIFF ImageDescription (not the OME-XML / ImageJ / tifffile header).
        physical_size: Pixel size from OME or ImageJ metadata: keys ``x``, ``y``, ``z`` (floats, any
            may be missing) and ``unit`` (e.g. ``"µm"``).
        frame: 0-based index of this frame in a multi-frame file; ``n_frames`` frames in all.
    """

    path: Path | None = None
    bit_depth: int = 8
    channels: int = 3
    had_alpha: bool = False
    exif: bytes | None = None
    icc_profile: bytes | None = None
    resolution: tuple[float, float] | None = None
    resolution_unit: int | None = None
    description: str | None = None
    physical_size: dict[str, Any] = field(default_factory=dict)
    frame: int = 0
    n_frames: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


def _to_float(arr: np.ndarray, path: Path) -> tuple[np.ndarray, int]:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0, 8
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0, 16
    if arr.dtype == bool:
        return arr.astype(np.float32), 8
    if arr.dtype in (np.int32, np.uint32, np.int16):
        # Pillow's 'I' / 'I;16' modes: treat as 16-bit data.
        return np.clip(arr.astype(np.float32) / 65535.0, 0.0, 1.0), 16
    if np.issubdtype(arr.dtype, np.floating):
        if np.isnan(arr).any():
            raise MfifError(f"{path}: holds NaN (not-a-number) samples")
        return np.clip(arr.astype(np.float32), 0.0, 1.0), 16  # +-inf and out-of-range values clipped
    raise MfifError(f"{path}: unsupported sample type {arr.dtype}")


def _drop_alpha(arr: np.ndarray, path: Path) -> tuple[np.ndarray, bool]:
    if arr.ndim == 3 and arr.shape[2] == 4:
        warnings.warn(f"{path}: alpha channel dropped", stacklevel=3)
        return arr[..., :3], True
    if arr.ndim == 3 and arr.shape[2] == 2:  # gray + alpha
        warnings.warn(f"{path}: alpha channel dropped", stacklevel=3)
        return arr[..., 0], True
    return arr, False


class _quiet_c_stderr:
    """Send file descriptor 2 to /dev/null for the duration (C libraries that print to stderr)."""

    def __enter__(self) -> None:
        import sys

        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            os.close(null)
        except OSError:
            self._saved = None

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)


def _read_png_cv2(p: Path) -> np.ndarray | None:
    import cv2

    data = np.fromfile(p, dtype=np.uint8)
    with _quiet_c_stderr():  # libpng prints its own lines for damaged files; the error we raise is the one line
        arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if arr is None:
        return None
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[..., ::-1]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., [2, 1, 0, 3]]
    return np.ascontiguousarray(arr)


def _read_meta(p: Path) -> tuple[bytes | None, bytes | None]:
    from PIL import Image

    try:
        with Image.open(p) as im:
            return im.info.get("exif"), im.info.get("icc_profile")
    except Exception:
        return None, None


def _tiff_meta(tif: Any) -> dict[str, Any]:
    """Resolution, free-text description, EXIF and OME/ImageJ physical sizes of a ``tifffile.TiffFile``."""
    page = tif.pages[0]
    tags = page.tags
    meta: dict[str, Any] = {"physical_size": {}}
    xr, yr, unit = tags.get("XResolution"), tags.get("YResolution"), tags.get("ResolutionUnit")

    def _rat(v: Any) -> float | None:
        try:
            num, den = v
            return float(num) / float(den) if den else None
        except (TypeError, ValueError):
            return float(v) if isinstance(v, (int, float)) else None

    if xr is not None and yr is not None:
        x, y = _rat(xr.value), _rat(yr.value)
        if x and y:
            meta["resolution"] = (x, y)
            meta["resolution_unit"] = int(unit.value) if unit is not None else 2
    desc = tags.get("ImageDescription")
    if desc is not None and isinstance(desc.value, str) and not (tif.is_ome or tif.is_imagej or tif.is_shaped):
        text = desc.value.strip("\x00").strip()
        if text:
            meta["description"] = text
    phys = meta["physical_size"]
    if tif.is_ome and tif.ome_metadata:
        import xml.etree.ElementTree as ET

        try:
            root = ET.fromstring(tif.ome_metadata)
            px = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
        except ET.ParseError:
            px = None
        if px is not None:
            for ax in "xyz":
                val = px.get(f"PhysicalSize{ax.upper()}")
                if val:
                    try:
                        phys[ax] = float(val)
                    except ValueError:
                        pass
                    phys.setdefault("unit", px.get(f"PhysicalSize{ax.upper()}Unit", "µm"))
    elif tif.is_imagej and tif.imagej_metadata:
        ij = tif.imagej_metadata
        u = str(ij.get("unit", "")).replace("\\u00B5", "µ").replace("micron", "µm")
        if u and u != "pixel" and "resolution" in meta:
            phys["x"], phys["y"] = 1.0 / meta["resolution"][0], 1.0 / meta["resolution"][1]
            phys["unit"] = u
        if ij.get("spacing"):
            phys["z"] = float(ij["spacing"])
            phys.setdefault("unit", u or "pixel")
    exif = tif.pages[0].tags.get("ExifTag")
    if exif is not None and isinstance(exif.value, dict):
        meta["exif_dict"] = exif.value
    return meta


def _frame_axis(axes: str, shape: tuple[int, ...], p: Path) -> tuple[str, tuple[int, ...]]:
    """Check a TIFF series layout; returns ``(axes, shape)`` without length-1 axes."""
    keep = [(a, n) for a, n in zip(axes, shape) if n > 1 or a in "YX"]
    axes = "".join(a for a, _ in keep)
    shape = tuple(n for _, n in keep)
    hint = ("state the layout with --tiff-axes (one letter per axis of the stored shape "
            f"{tuple(shape)}: Z frames, Y rows, X columns, S colour samples; e.g. ZYX or ZYXS)")
    if not ("Y" in axes and "X" in axes):
        raise MfifError(f"{p}: TIFF axes {axes} {shape} have no Y and X; {hint}")
    frames = [a for a in axes if a in FRAME_AXES]
    other = [a for a in axes if a not in FRAME_AXES + "YXS"]
    if other:
        what = "a channel axis C (colour channels or focal planes?)" if other == ["C"] else f"axes {''.join(other)}"
        raise MfifError(f"{p}: TIFF axes {axes} {shape}: {what} is ambiguous; {hint}")
    if len(frames) > 1:
        raise MfifError(f"{p}: TIFF axes {axes} {shape} hold more than one frame axis ({', '.join(frames)}); "
                        "save one z-stack per file (e.g. one time point), or if the metadata are wrong, " + hint)
    if "S" in axes and shape[axes.index("S")] > 4:
        raise MfifError(f"{p}: TIFF axes {axes} {shape}: {shape[axes.index('S')]} samples per pixel; {hint}")
    return axes, shape


def _read_tiff(p: Path, tiff_axes: str | None) -> tuple[list[np.ndarray], dict[str, Any]] | None:
    """Frames (each Y x X or Y x X x S) and metadata of a TIFF file; None if tifffile cannot parse it."""
    import logging

    import tifffile

    log = logging.getLogger("tifffile")  # tifffile logs what it skips in a damaged file; errors are ours
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        with tifffile.TiffFile(p) as tif:
            series = tif.series[0]
            arr = np.asarray(series.asarray())
            axes = series.axes
            meta = _tiff_meta(tif)
    except MfifError:
        raise
    except Exception:
        return None  # fall back to Pillow (e.g. a .tif name that tifffile rejects)
    finally:
        log.setLevel(level)
    if tiff_axes is not None:
        stated = tiff_axes.upper()
        if len(stated) != arr.ndim or len(set(stated)) != len(stated):
            raise MfifError(f"--tiff-axes {tiff_axes}: {p} has stored shape {arr.shape} ({series.axes}); give "
                            f"{arr.ndim} distinct letters")
        axes = stated
    elif axes == "SYX" and arr.shape[0] not in (3, 4):
        axes = "QYX"  # tifffile's planar guess for a pageless shaped array that cannot be colour
    axes_kept, shape = _frame_axis(axes, arr.shape, p)
    arr = arr.reshape(shape)
    order = [axes_kept.index(a) for a in "ZTIQYXS" if a in axes_kept]
    arr = np.transpose(arr, order)
    frame_ax = next((a for a in axes_kept if a in FRAME_AXES), None)
    frames = list(arr) if frame_ax is not None else [arr]
    return frames, meta


def _read_raw(p: Path) -> np.ndarray:
    try:
        import rawpy
    except ImportError:
        raise MfifError(f"{p}: reading camera RAW files needs rawpy: pip install 'mfif[raw]'") from None
    try:
        with _quiet_c_stderr(), rawpy.imread(str(p)) as raw:  # LibRaw prints its own lines for damaged files
            # Camera white balance, linear exposure (no per-frame auto-brightening, so the frames of a
            # stack stay comparable), sRGB gamma, 16 bits per sample.
            return raw.postprocess(use_camera_wb=True, no_auto_bright=True, output_bps=16)
    except Exception as exc:  # rawpy raises LibRawError subclasses and OSError
        arg = exc.args[0] if exc.args else ""
        text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(exc)
        msg = text.splitlines()[0] if text else type(exc).__name__
        raise MfifError(f"{p}: cannot read RAW image ({msg})") from None


def _register_heif(p: Path) -> None:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        raise MfifError(f"{p}: reading HEIC/HEIF files needs pillow-heif: pip install 'mfif[heif]'") from None
    register_heif_opener()


def _read_pillow(p: Path) -> tuple[np.ndarray, bytes | None, bytes | None]:
    from PIL import Image, UnidentifiedImageError

    try:
        with _quiet_c_stderr(), Image.open(p) as im:  # libheif/libtiff may print for damaged files
            im.load()
            exif = im.info.get("exif")
            icc = im.info.get("icc_profile")
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
            elif im.mode == "1":
                im = im.convert("L")
            arr = np.asarray(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = arr.astype(np.uint16) if arr.max(initial=0) <= 65535 else arr
    except UnidentifiedImageError:
        raise MfifError(f"{p}: not a readable image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MfifError(f"{p}: cannot read image ({msg})") from None
    return arr, exif, icc


def _exif_from_tiff(p: Path) -> bytes | None:
    """The EXIF of a TIFF file (its camera tags of IFD0 and the Exif sub-IFD) as an EXIF blob."""
    from PIL import Image

    try:
        with Image.open(p) as im:
            src = im.getexif()
            ex = Image.Exif()
            for tag in EXIF_IFD0_TAGS:
                if tag in src:
                    ex[tag] = src[tag]
            sub = src.get_ifd(0x8769)
            if sub:
                ex_ifd = ex.get_ifd(0x8769)
                ex_ifd.update(sub)
            return ex.tobytes() if (len(ex) or sub) else None
    except Exception:
        return None


#: IFD0 tags that describe the camera and the shot (carried into outputs); image-structure tags are not.
EXIF_IFD0_TAGS = (0x010F, 0x0110, 0x0112, 0x0131, 0x0132, 0x013B, 0x8298)


def read_frames(path: str | os.PathLike[str], *, tiff_axes: str | None = None,
                native: bool = False) -> list[tuple[np.ndarray, ImageInfo]]:
    """Read an image file as a list of frames, each float32 [0, 1] (or, with ``native``, as stored when 8 or
    16 bits per sample: uint8 / uint16 arrays, 1/4 and 1/2 of the float32 memory).

    A photo (JPEG, PNG, BMP, single-page TIFF, RAW, HEIC) gives one frame; a multi-page TIFF z-stack
    (ImageJ hyperstack, OME-TIFF or plain pages) gives one frame per focal plane, in stored order,
    with the axes taken from the OME/ImageJ metadata.

    Args:
        path: Image file (see :data:`INPUT_SUFFIXES`).
        tiff_axes: The TIFF's axes in stored order when its metadata are ambiguous, one tifffile letter
            per axis of the stored (squeezed) shape: ``Z`` frames, ``Y``/``X`` rows/columns, ``S``
            colour samples (e.g. ``ZYX``, ``ZYXS``, ``SYX`` for one planar RGB image).
        native: Keep uint8 and uint16 samples as they are (other sample types become float32).

    Returns:
        ``[(image, info), ...]``: images H x W or H x W x 3 float32 in [0, 1]; ``info.frame`` /
        ``info.n_frames`` number them.

    Raises:
        MfifError: file missing, unreadable, truncated, of an unsupported or ambiguous layout, or
        needing an optional extra that is not installed.
    """
    p = Path(path)
    if not p.exists():
        raise MfifError(f"{p}: no such file")
    if p.is_dir():
        raise MfifError(f"{p}: is a directory, expected an image file")
    try:
        return _read_frames(p, tiff_axes, native)
    except MemoryError:
        raise MfifError(f"{p}: too large to read into memory") from None
    except OSError as exc:
        raise MfifError(f"{p}: cannot read ({exc.strerror or type(exc).__name__})") from None


def _read_frames(p: Path, tiff_axes: str | None, native: bool = False) -> list[tuple[np.ndarray, ImageInfo]]:
    suffix = p.suffix.lower()
    exif = icc = None
    meta: dict[str, Any] = {}
    frames: list[np.ndarray] | None = None
    if suffix in (".tif", ".tiff"):
        got = _read_tiff(p, tiff_axes)
        if got is not None:
            frames, meta = got
            _, icc = _read_meta(p)
            meta.pop("exif_dict", None)
            exif = _exif_from_tiff(p)
    elif tiff_axes is not None:
        raise MfifError(f"--tiff-axes applies to TIFF files, not {p}")
    if frames is None and suffix in RAW_SUFFIXES:
        frames = [_read_raw(p)]
    if frames is None and suffix == ".png":
        arr = _read_png_cv2(p)  # Pillow reduces 16-bit RGB PNG to 8 bits; OpenCV keeps them
        if arr is not None:
            frames = [arr]
            exif, icc = _read_meta(p)
    if frames is None:
        if suffix in HEIF_SUFFIXES:
            _register_heif(p)
        arr, exif, icc = _read_pillow(p)
        frames = [arr]
    if not frames:
        raise MfifError(f"{p}: holds no image")
    out = []
    for k, arr in enumerate(frames):
        if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (1, 2, 3, 4):
            arr = np.moveaxis(arr, 0, -1)  # planar data read by Pillow
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
            raise MfifError(f"{p}: unsupported image layout {arr.shape}")
        if arr.size == 0:
            raise MfifError(f"{p}: empty image {arr.shape}")
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        arr, had_alpha = _drop_alpha(arr, p) if k == 0 else _drop_alpha_quiet(arr)
        if native and arr.dtype in (np.uint8, np.uint16):
            img, depth = np.ascontiguousarray(arr), 8 if arr.dtype == np.uint8 else 16
        else:
            img, depth = _to_float(np.ascontiguousarray(arr), p)
        out.append((img, ImageInfo(
            path=p,
            bit_depth=depth,
            channels=1 if img.ndim == 2 else 3,
            had_alpha=had_alpha,
            exif=exif,
            icc_profile=icc,
            resolution=meta.get("resolution"),
            resolution_unit=meta.get("resolution_unit"),
            description=meta.get("description"),
            physical_size=dict(meta.get("physical_size", {})),
            frame=k,
            n_frames=len(frames),
        )))
    return out


def _drop_alpha_quiet(arr: np.ndarray) -> tuple[np.ndarray, bool]:
    if arr.ndim == 3 and arr.shape[2] == 4:
        return arr[..., :3], True
    if arr.ndim == 3 and arr.shape[2] == 2:
        return arr[..., 0], True
    return arr, False


def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, ImageInfo]:
    """Read a single-image file into float32 [0, 1].

    Args:
        path: JPEG, PNG, TIFF, BMP (8- or 16-bit, gray, RGB, or with alpha: dropped with a warning),
            camera RAW (``mfif[raw]``) or HEIC/HEIF (``mfif[heif]``).

    Returns:
        ``(image, info)``: image float32 H x W or H x W x 3 in [0, 1], and its :class:`ImageInfo`.

    Raises:
        MfifError: file missing, unreadable, truncated, of an unsupported layout, or a multi-frame
        TIFF stack (read those with :func:`read_frames`).
    """
    frames = read_frames(path)
    if len(frames) > 1:
        raise MfifError(f"{path}: is a stack of {len(frames)} frames, expected one image")
    return frames[0]


def frame_to_float(frame: np.ndarray, *, name: str = "frame") -> np.ndarray:
    """One frame as float32 [0, 1]: uint8 / 255, uint16 / 65535, floats clipped, alpha dropped (the frames a
    streaming method reads as stored, :func:`read_frames` with ``native``)."""
    a = np.asarray(frame)
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise MfifError(f"{name}: expected H x W or H x W x 3, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) * np.float32(1 / 255)
    if a.dtype == np.uint16:
        return a.astype(np.float32) * np.float32(1 / 65535)
    return np.clip(np.asarray(a, np.float32), 0.0, 1.0)


def to_rgb(img: np.ndarray) -> np.ndarray:
    """Replicate a gray H x W image to H x W x 3 (RGB input is returned unchanged)."""
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img


def to_gray(img: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an RGB image as float32 (:func:`mfif.filters.luma`; gray input is returned unchanged)."""
    if img.ndim == 2:
        return img
    from mfif.filters import luma

    return luma(img).astype(np.float32)


def harmonize(images: Sequence[np.ndarray], names: Sequence[str] | None = None) -> tuple[list[np.ndarray], bool]:
    """Make a list of sources fusion-ready: same shape, float32, gray mixed with RGB → RGB.

    Args:
        images: Source images, float32 [0, 1], H x W or H x W x 3.
        names: Names for error messages (file paths); defaults to ``image 1..N``.

    Returns:
        ``(images, all_gray)``: the converted list, and True if every input was gray.

    Raises:
        MfifError: fewer than two images, differing sizes, or images smaller than 8 x 8.
    """
    names = list(names) if names is not None else [f"image {i + 1}" for i in range(len(images))]
    if len(images) < 2:
        raise MfifError("fusion needs at least two source images")
    imgs = [np.asarray(im, dtype=np.float32) for im in images]
    for im, nm in zip(imgs, names):
        if im.ndim == 3 and im.shape[2] == 4:
            im = im[..., :3]
        if im.ndim not in (2, 3) or (im.ndim == 3 and im.shape[2] != 3):
            raise MfifError(f"{nm}: expected H x W or H x W x 3, got shape {im.shape}")
        if min(im.shape[:2]) < 8:
            raise MfifError(f"{nm}: image is {im.shape[1]}x{im.shape[0]}, smaller than the 8x8 minimum")
    imgs = [im[..., :3] if im.ndim == 3 else im for im in imgs]
    size0 = imgs[0].shape[:2]
    for im, nm in zip(imgs[1:], names[1:]):
        if im.shape[:2] != size0:
            raise MfifError(
                f"{nm}: size {im.shape[1]}x{im.shape[0]} differs from {names[0]} ({size0[1]}x{size0[0]})"
            )
    all_gray = all(im.ndim == 2 for im in imgs)
    if not all_gray:
        imgs = [to_rgb(im) for im in imgs]
    imgs = [np.clip(im, 0.0, 1.0) for im in imgs]
    return imgs, all_gray


def _quantize(img: np.ndarray, bit_depth: int) -> np.ndarray:
    img = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    if bit_depth == 16:
        return np.round(img * 65535.0).astype(np.uint16)
    return np.round(img * 255.0).astype(np.uint8)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    import zlib

    return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")


def _png_add_metadata(path: Path, *, exif: bytes | None, icc_profile: bytes | None) -> None:
    """Insert iCCP and eXIf chunks right after IHDR of a PNG file written without them (OpenCV's
    16-bit RGB writer has no metadata options). PNG spec 1.2 §11.3.3.3 (iCCP: name, NUL, method 0,
    zlib stream) and the 2017 eXIf extension (raw TIFF-header EXIF, no "Exif\\0\\0" prefix)."""
    import zlib

    raw = path.read_bytes()
    ihdr_end = 8 + 8 + int.from_bytes(raw[8:12], "big") + 4  # signature, IHDR length/type, data, CRC
    extra = b""
    if icc_profile:
        extra += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile))
    if exif:
        body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
        extra += _png_chunk(b"eXIf", body)
    path.write_bytes(raw[:ihdr_end] + extra + raw[ihdr_end:])


def publish(tmp: str | os.PathLike, final: str | os.PathLike) -> None:
    """Move a finished temporary file or folder into place atomically, with normal permissions.

    ``tempfile.mkstemp`` / ``mkdtemp`` create entries for the owner only (0600 / 0700); outputs get
    what ``open()`` / ``mkdir()`` would give them (0666 / 0777 minus the process umask).
    """
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, (0o777 if os.path.isdir(tmp) else 0o666) & ~mask)
    os.replace(tmp, final)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` (text is UTF-8, newlines as given) to ``path`` via a temporary file in the same
    folder and :func:`publish`, so readers never see a half-written file."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        publish(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _exif_parts(exif: bytes | None) -> tuple[list[tuple], dict]:
    """IFD0 camera tags (as tifffile extratags) and the Exif sub-IFD (tag -> value) of an EXIF blob."""
    if not exif:
        return [], {}
    from PIL import Image

    try:
        ex = Image.Exif()
        ex.load(exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
        tags = []
        for tag in EXIF_IFD0_TAGS:
            val = ex.get(tag)
            if isinstance(val, str) and val.strip("\x00"):
                tags.append((tag, "s", 0, val.strip("\x00").encode("ascii", "replace").decode("ascii"), True))
            elif tag == 0x0112 and isinstance(val, int) and 1 <= val <= 8:
                tags.append((tag, "H", 1, val, True))
        return tags, dict(ex.get_ifd(0x8769))
    except Exception:
        return [], {}


_EXIF_PLACEHOLDER = 34666  # an unused tag number right after ExifIFD (34665), renamed once the sub-IFD is in place


def _tiff_append_exif_ifd(path: str, sub: dict) -> None:
    """Append the Exif sub-IFD to a TIFF written with a ``_EXIF_PLACEHOLDER`` LONG tag in IFD0 and turn
    that entry into the ExifIFD pointer (tifffile writes no sub-IFDs of its own)."""
    import struct

    import tifffile
    from PIL import TiffImagePlugin

    with tifffile.TiffFile(path) as tif:
        if tif.is_bigtiff:
            return
        bo = tif.byteorder
        vo = tif.pages[0].tags[_EXIF_PLACEHOLDER].valueoffset
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II" if bo == "<" else b"MM", group=0x8769)
    for k, v in sub.items():
        try:
            ifd[k] = v
        except Exception:  # noqa: BLE001 - a tag Pillow cannot re-encode is left out
            continue
    size = os.path.getsize(path)
    start = size + (size % 2)
    try:
        data = ifd.tobytes(start)
    except Exception:  # noqa: BLE001
        data = b""
    with open(path, "r+b") as fh:
        fh.seek(vo - 8)
        if not data:
            fh.write(struct.pack(bo + "H", 0x9C9C))  # XPComment-range private tag: harmless
            return
        fh.seek(0, 2)
        fh.write(b"\x00" * (start - size) + data)
        fh.seek(vo - 8)
        fh.write(struct.pack(bo + "HHII", 34665, 4, 1, start))


def _ome_unit(unit: str) -> str:
    return {"um": "µm", "micron": "µm", "microns": "µm", "\\u00B5m": "µm", "nm": "nm", "mm": "mm"}.get(unit, unit)


def _write_tiff(tmp: str, data: np.ndarray, *, icc_profile: bytes | None, exif: bytes | None,
                resolution: tuple[float, float] | None, resolution_unit: int | None,
                description: str | None, physical_size: dict | None) -> None:
    import tifffile

    ifd0, sub = _exif_parts(exif)
    extratags: list[tuple] = list(ifd0)
    if icc_profile:
        extratags.append((34675, "B", len(icc_profile), icc_profile, True))
    if sub:
        extratags.append((_EXIF_PLACEHOLDER, "I", 1, 0, True))
    kw: dict[str, Any] = {}
    phys = {k: v for k, v in (physical_size or {}).items() if k in "xyz" and v}
    if phys.get("x") or phys.get("y"):
        unit = _ome_unit(str((physical_size or {}).get("unit", "µm")))
        md: dict[str, Any] = {"axes": "YXS" if data.ndim == 3 else "YX"}
        for ax in "xy":
            if phys.get(ax):
                md[f"PhysicalSize{ax.upper()}"] = float(phys[ax])
                md[f"PhysicalSize{ax.upper()}Unit"] = unit
        kw.update(ome=True, metadata=md)
    else:
        kw.update(metadata=None)
        if description:  # TIFF ASCII: µ as u, anything else non-ASCII as ?
            kw["description"] = description.replace("µ", "u").encode("ascii", "replace").decode("ascii")
    if resolution:
        kw["resolution"] = (float(resolution[0]), float(resolution[1]))
        kw["resolutionunit"] = int(resolution_unit or 2)
    tifffile.imwrite(
        tmp,
        data,
        photometric="rgb" if data.ndim == 3 else "minisblack",
        compression="zlib",
        extratags=extratags,
        software=False if any(t[0] == 0x0131 for t in ifd0) else None,
        **kw,
    )
    if sub:
        _tiff_append_exif_ifd(tmp, sub)


class PendingImage:
    """An encoded image in a temporary file next to its final path, not yet visible there.

    :meth:`publish` renames it into place; :meth:`discard` removes it. Writing several outputs as
    pending images first and publishing them only when all are encoded leaves no partial set behind.
    """

    def __init__(self, tmp: str, final: Path) -> None:
        self.tmp, self.final = tmp, final

    def publish(self) -> Path:
        publish(self.tmp, self.final)
        return self.final

    def discard(self) -> None:
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


def output_path(path: str | os.PathLike[str]) -> Path:
    """The file :func:`write_image` writes for ``path`` (``.png`` added when there is no suffix)."""
    p = Path(path)
    return p.with_suffix(".png") if p.suffix == "" else p


def encode_image(
    path: str | os.PathLike[str],
    img: np.ndarray,
    *,
    bit_depth: int = 8,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    jpeg_quality: int = 95,
    resolution: tuple[float, float] | None = None,
    resolution_unit: int | None = None,
    description: str | None = None,
    physical_size: dict | None = None,
) -> PendingImage:
    """Encode an image into a temporary file beside ``path`` (see :func:`write_image` for the arguments
    and :class:`PendingImage`). ``bit_depth`` 32 writes float32 samples (TIFF only, values as given)."""
    p = output_path(path)
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise MfifError(f"{p}: unsupported output format {p.suffix!r} (use one of {', '.join(SUPPORTED_SUFFIXES)})")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise MfifError(f"{p}: output directory {parent} does not exist")
    if bit_depth not in (8, 16, 32) or (bit_depth == 32 and suffix not in (".tif", ".tiff")):
        raise MfifError(f"bit_depth must be 8 or 16 (32 = float, TIFF only), got {bit_depth}")
    if suffix in (".jpg", ".jpeg", ".bmp") and bit_depth == 16:
        warnings.warn(f"{p}: {suffix} stores 8 bits per sample; writing 8-bit", stacklevel=3)
        bit_depth = 8
    data = np.asarray(img, dtype=np.float32) if bit_depth == 32 else _quantize(img, bit_depth)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".mfif-", suffix=suffix, dir=parent)
    except OSError as exc:
        raise MfifError(f"{p}: cannot write image ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        if suffix in (".tif", ".tiff"):
            _write_tiff(tmp, data, icc_profile=icc_profile, exif=exif, resolution=resolution,
                        resolution_unit=resolution_unit, description=description, physical_size=physical_size)
        elif suffix == ".png" and bit_depth == 16 and data.ndim == 3:
            import cv2

            ok = cv2.imwrite(tmp, np.ascontiguousarray(data[..., ::-1]))
            if not ok:
                raise OSError("OpenCV could not write the 16-bit PNG")
            if icc_profile or exif:
                _png_add_metadata(Path(tmp), exif=exif, icc_profile=icc_profile)
        else:
            from PIL import Image

            im = Image.fromarray(data)  # uint8 gray/RGB, or 16-bit gray (16-bit RGB took the branches above)
            kwargs: dict[str, Any] = {}
            if icc_profile:
                kwargs["icc_profile"] = icc_profile
            if exif and suffix in (".jpg", ".jpeg", ".png"):
                kwargs["exif"] = exif
            if suffix in (".jpg", ".jpeg"):
                kwargs["quality"] = jpeg_quality
            if resolution and suffix in (".png", ".jpg", ".jpeg", ".bmp") and resolution_unit in (2, 3):
                scale = 1.0 if resolution_unit == 2 else 2.54  # Pillow's dpi is per inch
                kwargs["dpi"] = (resolution[0] * scale, resolution[1] * scale)
            fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}[suffix]
            im.save(tmp, format=fmt, **kwargs)
        return PendingImage(tmp, p)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, (MfifError, KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(exc, Exception):
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MfifError(f"{p}: cannot write image ({msg})") from None
        raise


def write_image(
    path: str | os.PathLike[str],
    img: np.ndarray,
    *,
    bit_depth: int = 8,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    jpeg_quality: int = 95,
    resolution: tuple[float, float] | None = None,
    resolution_unit: int | None = None,
    description: str | None = None,
    physical_size: dict | None = None,
) -> Path:
    """Write a float32 [0, 1] image atomically in the format of the file extension.

    The data go to a temporary file in the target directory that is renamed into place, so a failed
    write never leaves a half-written output.

    Args:
        path: Output path; suffix .png (default when none), .jpg/.jpeg, .tif/.tiff or .bmp.
        img: H x W or H x W x 3 float32 in [0, 1].
        bit_depth: 8 or 16. JPEG and BMP are always 8-bit (16 is reduced with a warning).
        exif: EXIF bytes to carry over (JPEG, PNG; TIFF: the camera tags of IFD0 and the Exif sub-IFD).
        icc_profile: ICC profile bytes to carry over.
        jpeg_quality: JPEG quality (1-95+).
        resolution: X/Y pixels per ``resolution_unit`` (TIFF tags; PNG/JPEG/BMP dpi for inch/cm).
        resolution_unit: TIFF ResolutionUnit: 1 none, 2 inch (default), 3 centimetre.
        description: TIFF ImageDescription (ignored when ``physical_size`` makes the output OME-TIFF).
        physical_size: ``{"x", "y", "unit"}`` pixel size; TIFF outputs become OME-TIFF carrying it.

    Returns:
        The final path.

    Raises:
        MfifError: the output directory is missing or not writable, or the extension is unsupported.
    """
    pending = encode_image(path, img, bit_depth=bit_depth, exif=exif, icc_profile=icc_profile,
                           jpeg_quality=jpeg_quality, resolution=resolution, resolution_unit=resolution_unit,
                           description=description, physical_size=physical_size)
    try:
        return pending.publish()
    except OSError as exc:
        pending.discard()
        raise MfifError(f"{pending.final}: cannot write image ({exc.strerror or exc})") from None


def save_map(path: str | os.PathLike[str], focus_map: np.ndarray) -> Path:
    """Write a H x W map in [0, 1] as an 8-bit gray PNG (or the extension's format)."""
    return write_image(path, np.asarray(focus_map, dtype=np.float32), bit_depth=8)
