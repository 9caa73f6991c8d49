"""Upload checks before anything is decoded: the file type from its first bytes, and the pixel count
from the header (decompression bombs). Decoding itself is :func:`mfif.io.read_image`'s job."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from mfif.errors import MfifError

# Magic bytes → the suffix the server gives the stored upload (the client's file name is never used).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
    (b"BM", ".bmp"),
)
ACCEPTED_TYPES = "PNG, JPEG, TIFF, BMP"


def sniff_suffix(head: bytes) -> str | None:
    """The stored suffix for an upload that starts with ``head`` (≥ 8 bytes), or None if no image type."""
    for magic, suffix in _MAGIC:
        if head.startswith(magic):
            return suffix
    return None


def header_pixels(path: Path, suffix: str) -> int:
    """Pixels the image would decode to, read from its header only (all pages of a TIFF).

    Raises:
        MfifError: the header cannot be read.
    """
    try:
        if suffix == ".tif":
            import tifffile

            with tifffile.TiffFile(path) as tf:
                return sum(int(pg.imagelength) * int(pg.imagewidth) * max(1, int(getattr(pg, "imagedepth", 1)))
                           for pg in tf.pages)
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
