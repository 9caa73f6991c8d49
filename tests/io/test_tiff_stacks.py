"""Multi-page TIFF and OME-TIFF z-stacks read as frames; TIFF metadata carried into the outputs."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from mfif.cli.main import main
from mfif.errors import MfifError
from mfif.io import read_frames, read_image, write_image

M = ["--method", "laplacian-argmax"]


def stack(n: int, h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    """n frames, frame k sharp (random texture) in the k-th vertical band, flat elsewhere; uint16."""
    rng = np.random.default_rng(seed)
    tex = rng.integers(0, 65535, (h, w), dtype=np.uint16)
    out = np.full((n, h, w), 30000, np.uint16)
    bw = w // n
    for k in range(n):
        out[k, :, k * bw:(k + 1) * bw] = tex[:, k * bw:(k + 1) * bw]
    return out


def run(argv, capsys):
    code = main([str(x) for x in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("n", [3, 4, 10])
@pytest.mark.parametrize("kind", ["imagej", "ome", "pages"])
def test_stack_read_as_frames_not_colour(tmp_path, n, kind):
    data = stack(n)
    f = tmp_path / "s.tif"
    if kind == "imagej":
        tifffile.imwrite(f, data, imagej=True, metadata={"axes": "ZYX"})
    elif kind == "ome":
        tifffile.imwrite(f, data, ome=True, metadata={"axes": "ZYX"})
    else:
        with tifffile.TiffWriter(f) as tw:  # plain pages, no metadata (Pillow/libtiff style)
            for fr in data:
                tw.write(fr, metadata=None)
    frames = read_frames(f)
    assert len(frames) == n
    for k, (img, info) in enumerate(frames):
        assert img.shape == data.shape[1:] and info.bit_depth == 16 and info.frame == k and info.n_frames == n
        assert np.array_equal(np.round(img * 65535).astype(np.uint16), data[k])
    with pytest.raises(MfifError, match="stack of"):
        read_image(f)


def test_rgb_stack_and_single_rgb_tiff(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    with tifffile.TiffWriter(tmp_path / "rgbs.tif") as tw:
        for fr in rgb:
            tw.write(fr, photometric="rgb", metadata=None)
    frames = read_frames(tmp_path / "rgbs.tif")
    assert len(frames) == 3 and frames[0][0].shape == (16, 16, 3)
    tifffile.imwrite(tmp_path / "one.tif", rgb[0], photometric="rgb")
    img, _ = read_image(tmp_path / "one.tif")
    assert img.shape == (16, 16, 3)


def test_ambiguous_layout_says_how_to_state_it(tmp_path, capsys):
    data = stack(3)
    f = tmp_path / "c.tif"
    tifffile.imwrite(f, data, imagej=True, metadata={"axes": "CYX"})
    with pytest.raises(MfifError, match="--tiff-axes"):
        read_frames(f)
    code, _, err = run(["fuse", f, "-o", tmp_path / "o.png", *M], capsys)
    assert code == 2 and "--tiff-axes" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()
    code, _, err = run(["fuse", f, "-o", tmp_path / "o.png", "--tiff-axes", "ZYX", *M], capsys)
    assert code == 0, err
    assert len(read_frames(f, tiff_axes="ZYX")) == 3
    assert read_frames(f, tiff_axes="SYX")[0][0].shape == (24, 32, 3)
    tz = tmp_path / "tz.tif"
    tifffile.imwrite(tz, np.stack([data, data]), imagej=True, metadata={"axes": "TZYX"})
    with pytest.raises(MfifError, match="more than one frame axis"):
        read_frames(tz)


def test_single_stack_file_fuses_with_depth_in_z_units(tmp_path, capsys):
    n = 4
    data = stack(n, seed=3)
    f = tmp_path / "z.ome.tif"
    tifffile.imwrite(f, data, ome=True, resolution=(4.0, 4.0), resolutionunit="CENTIMETER",
                     metadata={"axes": "ZYX", "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.25, "PhysicalSizeZ": 1.5,
                               "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm", "PhysicalSizeZUnit": "µm"})
    out, dm = tmp_path / "f.tif", tmp_path / "d.tif"
    code, stdout, err = run(["fuse", f, "-o", out, "--depth-map", dm, *M], capsys)
    assert code == 0, err
    assert "4 frames" in err and f"wrote {out}" in stdout and f"wrote {dm}" in stdout
    fused, info = read_image(out)
    assert fused.shape == (24, 32) and info.bit_depth == 16
    assert info.physical_size["x"] == pytest.approx(0.25) and info.physical_size["unit"] == "µm"
    assert info.resolution == pytest.approx((4.0, 4.0)) and info.resolution_unit == 3
    with tifffile.TiffFile(dm) as t:
        z = t.asarray()
    assert z.dtype == np.float32
    bw = 32 // n
    for k in range(n):  # the band sharp in frame k lies at z = 1.5 k
        band = z[3:-3, k * bw + 2:(k + 1) * bw - 2]
        assert np.median(band) == pytest.approx(1.5 * k)
    code, _, err = run(["fuse", f, "-o", tmp_path / "g.tif", "--depth-map", tmp_path / "e.tif", "--z-step", "2", *M],
                       capsys)
    assert code == 0, err
    assert set(np.unique(tifffile.imread(tmp_path / "e.tif"))) <= {0.0, 2.0, 4.0, 6.0}


def test_tiff_output_carries_exif_resolution_and_description(tmp_path, capsys):
    rng = np.random.default_rng(2)
    a = rng.random((20, 24, 3)).astype(np.float32)
    ex = Image.Exif()
    ex[0x010F] = "mfif-test-camera"  # Make
    ex.get_ifd(0x8769)[0x8827] = 400  # ISO in the Exif sub-IFD
    ex.get_ifd(0x8769)[0x9003] = "2024:01:02 03:04:05"  # DateTimeOriginal
    pa = write_image(tmp_path / "a.tif", a, bit_depth=16, exif=ex.tobytes(), resolution=(300.0, 300.0),
                     resolution_unit=2, description="sample 7, 20x objective")
    pb = write_image(tmp_path / "b.tif", a[::-1].copy(), bit_depth=16)
    out = tmp_path / "f.tif"
    code, _, err = run(["fuse", pa, pb, "-o", out, *M], capsys)
    assert code == 0, err
    _, info = read_image(out)
    assert info.resolution == pytest.approx((300.0, 300.0)) and info.resolution_unit == 2
    assert info.description == "sample 7, 20x objective"
    with Image.open(out) as im:
        got = im.getexif()
        assert got[0x010F] == "mfif-test-camera"
        sub = got.get_ifd(0x8769)
        assert sub[0x8827] == 400 and sub[0x9003] == "2024:01:02 03:04:05"
    with tifffile.TiffFile(out) as t:
        assert t.pages[0].tags["ExifTag"].value["ISOSpeedRatings"] == 400
