"""Upload checks before anything is decoded: the file type from its first bytes, and the pixel count
from the header (decompression bombs). Decoding itself is :func:`mfif.io.read_frames`'s job."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from mfif.errors import MfifError

ACCEPTED_TYPES = "PNG, JPEG, TIFF, BMP, camera RAW, HEIF"
# Stored suffixes (the client's file name is never used as one; its extension only picks between
# the entries of these tables when the first bytes allow several readers).
_TIFF_RAW = {".dng": ".dng", ".cr2": ".cr2", ".nef": ".nef", ".nrw": ".nrw", ".arw": ".arw",
             ".pef": ".pef", ".srw": ".srw"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
RAW_STORED = (".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw")
HEIF_STORED = (".heic",)


def sniff_suffix(head: bytes, client_name: str = "") -> str | None:
    """The suffix under which the server stores an upload starting with ``head`` (≥ 16 bytes), or
    None when it is no accepted image type. ``client_name``'s extension only tells a TIFF-based
    camera RAW (DNG, CR2, NEF, ARW, …) from a TIFF."""
    ext = "." + client_name.rsplit(".", 1)[-1].lower() if "." in client_name else ""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"BM"):
        return ".bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _TIFF_RAW.get(ext, ".tif")
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return ".orf"
    if head[:4] == b"IIU\x00":
        return ".rw2"
    if head.startswith(b"FUJIFILMCCD-RAW"):
        return ".raf"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"crx ":
            return ".cr3"
        if brand in _HEIF_BRANDS:
            return ".heic"
    return None


def header_pixels(path: Path, suffix: str) -> int:
    """Pixels the image would decode to, read from its header only (all pages of a TIFF).

    Raises:
        MfifError: the header cannot be read, or the format's optional reader is not installed.
    """
    try:
        if suffix == ".tif":
            import tifffile

            with tifffile.TiffFile(path) as tf:
                return sum(int(pg.imagelength) * int(pg.imagewidth) * max(1, int(getattr(pg, "imagedepth", 1)))
                           for pg in tf.pages)
        if suffix in RAW_STORED:
            try:
                import rawpy
            except ModuleNotFoundError:
                raise MfifError("camera RAW needs rawpy on the server: pip install 'mfif[raw]'") from None
            raw = rawpy.RawPy()
            raw.open_file(str(path))  # parses the metadata; nothing is decoded yet
            try:
                s = raw.sizes
                return int(s.raw_width) * int(s.raw_height)
            finally:
                raw.close()
        if suffix in HEIF_STORED:
            try:
                import pillow_heif
            except ModuleNotFoundError:
                raise MfifError("HEIF needs pillow-heif on the server: pip install 'mfif[heif]'") from None
            heif = pillow_heif.open_heif(str(path))
            return sum(int(im.size[0]) * int(im.size[1]) for im in heif)
        from PIL import Image

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning: we apply our own limit
            try:
                with Image.open(path) as im:
                    return int(im.size[0]) * int(im.size[1]) * int(getattr(im, "n_frames", 1) or 1)
            except Image.DecompressionBombError:
                return sys.maxsize  # larger than any limit we apply
    except MfifError:
        raise
    except Exception as exc:  # noqa: BLE001 - any header failure is the upload's fault
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MfifError(f"cannot read the image header ({msg})") from None
