"""16-bit RGB PNG output keeps EXIF and ICC (mfif.io inserts iCCP/eXIf chunks after OpenCV's write)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageCms

from mfif.io import read_image, write_image


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif() -> bytes:
    ex = Image.Exif()
    ex[0x010F] = "mfif-test-camera"  # Make
    return ex.tobytes()


def test_png16_rgb_keeps_exif_icc_and_samples(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.random((9, 7, 3), dtype=np.float32)
    icc, exif = _icc(), _exif()
    out = write_image(tmp_path / "x.png", img, bit_depth=16, icc_profile=icc, exif=exif)
    back, info = read_image(out)
    assert info.bit_depth == 16
    assert np.array_equal(np.round(back * 65535), np.round(img.astype(np.float64) * 65535))
    assert info.icc_profile == icc
    assert info.exif is not None and b"mfif-test-camera" in info.exif
    with Image.open(out) as im:  # Pillow checks every chunk's CRC while loading
        im.load()
        assert im.getexif()[0x010F] == "mfif-test-camera"


def test_png16_rgb_without_metadata_has_no_chunks(tmp_path):
    out = write_image(tmp_path / "y.png", np.zeros((4, 4, 3), np.float32), bit_depth=16)
    raw = out.read_bytes()
    assert b"iCCP" not in raw and b"eXIf" not in raw
