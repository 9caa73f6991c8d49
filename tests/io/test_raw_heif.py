"""Camera RAW (rawpy/LibRaw) and HEIC (pillow-heif) input, built here: a DNG written by tifffile
(tests/io/conftest.py), a HEIC written by pillow-heif; one-line errors naming the extra when it is missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mfif.cli.main import main
from mfif.errors import MfifError
from mfif.io import read_frames, read_image

pytest.importorskip("rawpy")
pytest.importorskip("pillow_heif")


def test_dng_reads_as_16bit_rgb_with_camera_white_balance(tmp_path, dng_writer):
    """The DNG's R and B sites read half of G on a gray scene (tests/io/conftest.py): neutral only when
    the camera's white balance (multipliers 2/1/2) is applied."""
    img, info = read_image(dng_writer(tmp_path / "x.dng"))
    assert img.shape == (32, 48, 3) and img.dtype == np.float32 and info.bit_depth == 16
    r, g, b = (float(img[4:-4, 4:-4, c].mean()) for c in range(3))
    assert g > 0.05
    assert abs(r / g - 1) < 0.05 and abs(b / g - 1) < 0.05, (r, g, b)  # neutral after the camera's white balance


def test_raw_pair_fuses_and_batch_writes_tiff(tmp_path, capsys, dng_writer):
    d = tmp_path / "in"
    d.mkdir()
    dng_writer(d / "s_A.dng", sharp_left=True)
    dng_writer(d / "s_B.dng", sharp_left=False)
    (d / "notes.txt").write_text("x")
    dng_writer(d / "lonely.dng")
    code = main(["batch", str(d), str(tmp_path / "out"), "--method", "laplacian-argmax", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    img, info = read_image(tmp_path / "out" / "s.tif")
    assert img.shape == (32, 48, 3) and info.bit_depth == 16
    assert "notes.txt: not an image format" in out and "lonely.dng: no partner" in out


def test_heic_reads(tmp_path):
    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()
    rng = np.random.default_rng(3)
    src = np.kron(rng.integers(0, 255, (8, 12, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    Image.fromarray(src).save(tmp_path / "x.heic", quality=95)
    img, info = read_image(tmp_path / "x.heic")
    assert img.shape == (32, 48, 3) and info.bit_depth == 8
    assert np.abs(img * 255 - src).mean() < 12  # lossy, but the same picture


@pytest.mark.parametrize("suffix,module,extra", [(".dng", "rawpy", "mfif[raw]"), (".heic", "pillow_heif", "mfif[heif]")])
def test_missing_extra_is_named(tmp_path, monkeypatch, suffix, module, extra):
    f = tmp_path / f"x{suffix}"
    f.write_bytes(b"\0" * 64)
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(MfifError, match=rf"{extra.replace('[', '.').replace(']', '.')}") as e:
        read_frames(f)
    assert str(f) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("suffix", [".dng", ".nef", ".heic"])
def test_corrupt_raw_and_heic_one_line(tmp_path, suffix):
    f = tmp_path / f"bad{suffix}"
    f.write_bytes(b"garbage" * 20)
    with pytest.raises(MfifError) as e:
        read_image(f)
    assert str(f) in str(e.value) and "\n" not in str(e.value)
