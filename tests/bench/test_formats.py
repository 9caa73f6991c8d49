"""JPEG format matching."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from mfif.bench.formats import jpeg_roundtrip, jpeg_settings


def _pillow_q75(x: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(x).save(buf, format="JPEG", quality=75, subsampling="4:2:0")
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def test_settings_copied_from_a_q75_file(tmp_path: Path, rng: np.random.Generator) -> None:
    x = (rng.random((24, 40, 3)) * 255).astype(np.uint8)
    ref = tmp_path / "pub.jpg"
    Image.fromarray(x).save(ref, format="JPEG", quality=75, subsampling="4:2:0")
    kw = jpeg_settings(ref)
    assert kw["subsampling"] == "4:2:0" and len(kw["qtables"]) == 2
    y = (rng.random((24, 40, 3)) * 255).astype(np.uint8)
    want = _pillow_q75(y).astype(np.float32) / 255
    got = jpeg_roundtrip(y.astype(np.float32) / 255, settings=kw)
    np.testing.assert_array_equal(got, want)  # same tables + sampling -> identical codec output
    np.testing.assert_array_equal(jpeg_roundtrip(y.astype(np.float32) / 255), want)  # default q75 4:2:0


def test_settings_of_a_q95_file_differ(tmp_path: Path, rng: np.random.Generator) -> None:
    x = (rng.random((16, 16, 3)) * 255).astype(np.uint8)
    ref = tmp_path / "q95.jpg"
    Image.fromarray(x).save(ref, format="JPEG", quality=95, subsampling="4:4:4")
    kw = jpeg_settings(ref)
    assert kw["subsampling"] == "4:4:4"
    assert not np.array_equal(jpeg_roundtrip(x / 255.0, settings=kw), jpeg_roundtrip(x / 255.0))
    assert jpeg_settings(None) == {"quality": 75, "subsampling": "4:2:0"}


def test_gray_roundtrip(rng: np.random.Generator) -> None:
    g = rng.random((20, 20)).astype(np.float32)
    out = jpeg_roundtrip(g)
    assert out.shape == g.shape and out.dtype == np.float32
    assert 0 < np.abs(out - g).mean() < 0.2
