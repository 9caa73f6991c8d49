"""Format matching: re-encode our lossless outputs the way a published JPEG was encoded.

The published outputs (MFIF-GAN authors, MFIFB) are JPEG quality 75 with 4:2:0 chroma subsampling
(Pillow's defaults; verified on the files: their quantisation tables equal Pillow's ``quality=75``).
Scoring our PNGs against their JPEGs would favour ours on QM, QG and MI, so the bench also ranks a
"format-matched" copy: ours encoded with the published file's own quantisation tables and
subsampling when one is given, else ``quality=75, subsampling=4:2:0``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, JpegImagePlugin

__all__ = ["DEFAULT_QUALITY", "DEFAULT_SUBSAMPLING", "jpeg_settings", "jpeg_roundtrip"]

DEFAULT_QUALITY = 75
DEFAULT_SUBSAMPLING = "4:2:0"
_SAMPLING_NAMES = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}


def jpeg_settings(path: str | Path | None) -> dict:
    """Pillow ``save`` keywords that reproduce a JPEG file's encoding.

    Args:
        path: A JPEG file, or None (-> quality 75, 4:2:0).

    Returns:
        ``{"qtables": ..., "subsampling": ...}`` from the file, or
        ``{"quality": 75, "subsampling": "4:2:0"}`` when ``path`` is None or not a JPEG.
    """
    if path is not None and Path(path).suffix.lower() in (".jpg", ".jpeg"):
        with Image.open(path) as im:
            if im.format == "JPEG" and getattr(im, "quantization", None):
                kw: dict = {"qtables": [list(t) for _, t in sorted(im.quantization.items())]}
                samp = JpegImagePlugin.get_sampling(im)
                if samp in _SAMPLING_NAMES:
                    kw["subsampling"] = _SAMPLING_NAMES[samp]
                return kw
    return {"quality": DEFAULT_QUALITY, "subsampling": DEFAULT_SUBSAMPLING}


def jpeg_roundtrip(img: np.ndarray, *, settings: dict | None = None) -> np.ndarray:
    """Encode an image as JPEG in memory and decode it again.

    Args:
        img: H x W or H x W x 3 float32 in [0, 1].
        settings: Pillow ``save`` keywords (see :func:`jpeg_settings`); default quality 75, 4:2:0.

    Returns:
        The decoded image, float32 in [0, 1], same shape as ``img``.
    """
    kw = dict(settings or {"quality": DEFAULT_QUALITY, "subsampling": DEFAULT_SUBSAMPLING})
    x = np.clip(np.rint(np.asarray(img, np.float32) * 255.0), 0, 255).astype(np.uint8)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[..., 0]
    pil = Image.fromarray(x, mode="L" if x.ndim == 2 else "RGB")
    if x.ndim == 2:
        kw.pop("subsampling", None)
        if "qtables" in kw:
            kw["qtables"] = kw["qtables"][:1]
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", **kw)
    buf.seek(0)
    with Image.open(buf) as im:
        out = np.asarray(im.convert("L" if x.ndim == 2 else "RGB"), dtype=np.float32) / 255.0
    return out
