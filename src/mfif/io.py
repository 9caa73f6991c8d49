"""Reading and writing images: 8/16-bit, gray/RGB, atomic writes.

Public convention (see docs/conventions.md): images are numpy float32 arrays in [0, 1], H x W (gray)
or H x W x 3 (RGB). :func:`read_image` returns such an array plus an :class:`ImageInfo` that remembers
the source bit depth and metadata so :func:`write_image` can write the result back at the same depth.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mfif.errors import MfifError

SUPPORTED_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass
class ImageInfo:
    """Metadata of a read image.

    Attributes:
        path: Where it was read from.
        bit_depth: 8 or 16 (bits per sample of the stored file).
        channels: 1 (gray) or 3 (RGB) after dropping alpha.
        had_alpha: True if an alpha channel was dropped.
        exif: Raw EXIF bytes, if present.
        icc_profile: Raw ICC profile bytes, if present.
    """

    path: Path | None = None
    bit_depth: int = 8
    channels: int = 3
    had_alpha: bool = False
    exif: bytes | None = None
    icc_profile: bytes | None = None
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
        return np.clip(arr.astype(np.float32), 0.0, 1.0), 16
    raise MfifError(f"{path}: unsupported sample type {arr.dtype}")


def _drop_alpha(arr: np.ndarray, path: Path) -> tuple[np.ndarray, bool]:
    if arr.ndim == 3 and arr.shape[2] == 4:
        warnings.warn(f"{path}: alpha channel dropped", stacklevel=3)
        return arr[..., :3], True
    if arr.ndim == 3 and arr.shape[2] == 2:  # gray + alpha
        warnings.warn(f"{path}: alpha channel dropped", stacklevel=3)
        return arr[..., 0], True
    return arr, False


def _read_png_cv2(p: Path) -> np.ndarray | None:
    import cv2

    data = np.fromfile(p, dtype=np.uint8)
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


def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file into float32 [0, 1].

    Args:
        path: JPEG, PNG, TIFF or BMP file, 8- or 16-bit, gray, RGB, or with alpha (dropped with a
            warning).

    Returns:
        ``(image, info)``: image float32 H x W or H x W x 3 in [0, 1], and its :class:`ImageInfo`.

    Raises:
        MfifError: file missing, unreadable, truncated, or of an unsupported layout.
    """
    p = Path(path)
    if not p.exists():
        raise MfifError(f"{p}: no such file")
    if p.is_dir():
        raise MfifError(f"{p}: is a directory, expected an image file")
    exif = icc = None
    arr: np.ndarray | None = None
    suffix = p.suffix.lower()
    if suffix in (".tif", ".tiff"):
        try:
            import tifffile

            arr = np.asarray(tifffile.imread(p))
            exif, icc = _read_meta(p)
        except Exception:
            arr = None  # fall back to Pillow (e.g. files with a .tif name that tifffile rejects)
    if arr is None and suffix == ".png":
        arr = _read_png_cv2(p)  # Pillow reduces 16-bit RGB PNG to 8 bits; OpenCV keeps them
        if arr is not None:
            exif, icc = _read_meta(p)
    if arr is None:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(p) as im:
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
        except (OSError, SyntaxError, ValueError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MfifError(f"{p}: cannot read image ({msg})") from None
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (3, 4):
        arr = np.moveaxis(arr, 0, -1)  # planar TIFF
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
        raise MfifError(f"{p}: unsupported image layout {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    arr, had_alpha = _drop_alpha(arr, p)
    img, depth = _to_float(np.ascontiguousarray(arr), p)
    info = ImageInfo(
        path=p,
        bit_depth=depth,
        channels=1 if img.ndim == 2 else 3,
        had_alpha=had_alpha,
        exif=exif,
        icc_profile=icc,
    )
    return img, info


def to_rgb(img: np.ndarray) -> np.ndarray:
    """Replicate a gray H x W image to H x W x 3 (RGB input is returned unchanged)."""
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img


def to_gray(img: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an RGB image (gray input is returned unchanged)."""
    if img.ndim == 2:
        return img
    return (img[..., 0] * 0.298936021293775 + img[..., 1] * 0.587043074451121 + img[..., 2] * 0.114020904255103).astype(np.float32)


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


def write_image(
    path: str | os.PathLike[str],
    img: np.ndarray,
    *,
    bit_depth: int = 8,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    jpeg_quality: int = 95,
) -> Path:
    """Write a float32 [0, 1] image atomically in the format of the file extension.

    The data go to a temporary file in the target directory that is renamed into place, so a failed
    write never leaves a half-written output.

    Args:
        path: Output path; suffix .png (default when none), .jpg/.jpeg, .tif/.tiff or .bmp.
        img: H x W or H x W x 3 float32 in [0, 1].
        bit_depth: 8 or 16. JPEG and BMP are always 8-bit (16 is reduced with a warning).
        exif: EXIF bytes to carry over (JPEG, PNG, TIFF via Pillow).
        icc_profile: ICC profile bytes to carry over.
        jpeg_quality: JPEG quality (1-95+).

    Returns:
        The final path.

    Raises:
        MfifError: the output directory is missing or the extension is unsupported.
    """
    p = Path(path)
    if p.suffix == "":
        p = p.with_suffix(".png")
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise MfifError(f"{p}: unsupported output format {p.suffix!r} (use one of {', '.join(SUPPORTED_SUFFIXES)})")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise MfifError(f"{p}: output directory {parent} does not exist")
    if bit_depth not in (8, 16):
        raise MfifError(f"bit_depth must be 8 or 16, got {bit_depth}")
    if suffix in (".jpg", ".jpeg", ".bmp") and bit_depth == 16:
        warnings.warn(f"{p}: {suffix} stores 8 bits per sample; writing 8-bit", stacklevel=2)
        bit_depth = 8
    data = _quantize(img, bit_depth)
    fd, tmp = tempfile.mkstemp(prefix=".mfif-", suffix=suffix, dir=parent)
    os.close(fd)
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            extratags = []
            if icc_profile:
                extratags.append((34675, "B", len(icc_profile), icc_profile, True))
            tifffile.imwrite(
                tmp,
                data,
                photometric="rgb" if data.ndim == 3 else "minisblack",
                compression="zlib",
                extratags=extratags,
            )
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
            fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}[suffix]
            im.save(tmp, format=fmt, **kwargs)
        publish(tmp, p)
    except MfifError:
        raise
    except Exception as exc:
        raise MfifError(f"{p}: cannot write image ({exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p


def save_map(path: str | os.PathLike[str], focus_map: np.ndarray) -> Path:
    """Write a H x W map in [0, 1] as an 8-bit gray PNG (or the extension's format)."""
    return write_image(path, np.asarray(focus_map, dtype=np.float32), bit_depth=8)
