"""``mfif batch``: grouping by naming convention, resume, bad items, 16-bit and metadata round trips.

Fusion uses "laplacian-argmax" (no weights; it copies the chosen source's pixels), so a lossless
16-bit path must give output samples that are exactly source samples.
"""

from __future__ import annotations

import io as _io
import os
from pathlib import Path

import numpy as np
import pytest

from mfif.cli.batch import find_items, group_files
from mfif.cli.main import main
from mfif.data.stacks import synthetic_stack
from mfif.io import read_image, write_image

M = ["--method", "laplacian-argmax", "--no-progress"]


def run(argv, capsys):
    code = main([str(x) for x in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def srcs():
    s, _, _ = synthetic_stack(3, size=(40, 48), seed=2, blur_step=2.0)
    return s


def _names(items):
    return {it.name: [p.name for p in it.sources] for it in items}


def test_grouping_rules():
    files = [Path(n) for n in ["lytro_01_A.jpg", "lytro_01_B.jpg", "lytro_02_B.jpg", "lytro_02_A.jpg",
                               "clock1.bmp", "clock2.bmp", "x-10.png", "x-2.png", "x-1.png",
                               "lonely.png", "IMG_0001.tif", "IMG_0002.tif", "solo_A.png"]]
    items, left = group_files(files)
    assert _names(items) == {
        "lytro_01": ["lytro_01_A.jpg", "lytro_01_B.jpg"],
        "lytro_02": ["lytro_02_A.jpg", "lytro_02_B.jpg"],
        "clock": ["clock1.bmp", "clock2.bmp"],
        "x": ["x-1.png", "x-2.png", "x-10.png"],  # numeric, not lexicographic order
        "IMG": ["IMG_0001.tif", "IMG_0002.tif"],
    }
    assert [p.name for p in left] == ["lonely.png", "solo_A.png"]


def test_subfolder_is_a_numbered_stack_and_output_dir_is_excluded(tmp_path, srcs):
    (tmp_path / "scene").mkdir()
    (tmp_path / "pairs").mkdir()
    for i, s in enumerate(srcs):
        write_image(tmp_path / "scene" / f"frame{i + 8}.png", s)  # frame8, frame9, frame10
    for n in ("a", "b"):
        write_image(tmp_path / "pairs" / f"{n}_A.png", srcs[0])
        write_image(tmp_path / "pairs" / f"{n}_B.png", srcs[1])
    (tmp_path / "out").mkdir()
    write_image(tmp_path / "out" / "old_A.png", srcs[0])
    write_image(tmp_path / "out" / "old_B.png", srcs[1])
    items, left = find_items(tmp_path, exclude=tmp_path / "out")
    got = {(str(it.rel), it.name): [p.name for p in it.sources] for it in items}
    assert got == {
        (".", "scene"): ["frame8.png", "frame9.png", "frame10.png"],
        ("pairs", "a"): ["a_A.png", "a_B.png"],
        ("pairs", "b"): ["b_A.png", "b_B.png"],
    }
    assert left == []


def test_batch_resumes_and_continues_past_bad_items(tmp_path, srcs, capsys):
    ind, out = tmp_path / "in", tmp_path / "out"
    (ind / "stack").mkdir(parents=True)
    write_image(ind / "good_A.png", srcs[0])
    write_image(ind / "good_B.png", srcs[1])
    (ind / "bad_A.png").write_bytes(b"not an image")
    write_image(ind / "bad_B.png", srcs[1])
    write_image(ind / "mixed-1.png", srcs[0])
    write_image(ind / "mixed-2.png", srcs[1][:32])
    for i, s in enumerate(srcs):
        write_image(ind / "stack" / f"{i}.png", s)
    code, outp, err = run(["batch", ind, out, *M, "--depth-maps"], capsys)
    assert code == 1
    assert "3 item(s)" not in outp and "4 item(s): 2 fused, 0 already done (skipped), 2 failed" in outp
    assert "bad_A.png" in outp and "not a readable image" in outp
    assert "mixed-2.png" in outp and "differs" in outp  # mixed sizes: clear error naming the file
    assert (out / "good.png").is_file() and (out / "stack.png").is_file()
    depth, _ = read_image(out / "stack_depth.png")
    assert depth.shape == (40, 48) and set(np.round(np.unique(depth) * 2).astype(int)) <= {0, 1, 2}
    assert not (out / "bad.png").exists() and not (out / "mixed.png").exists()
    assert not [p for p in out.rglob(".mfif-*")]  # no temporary files left behind
    # resume: finished outputs are not redone
    mtime = os.stat(out / "good.png").st_mtime_ns
    code, outp, _ = run(["batch", ind, out, *M], capsys)
    assert code == 1 and "0 fused, 2 already done (skipped), 2 failed" in outp
    assert os.stat(out / "good.png").st_mtime_ns == mtime
    # fix the bad items and resume: only they are done now
    write_image(ind / "bad_A.png", srcs[0])
    (ind / "mixed-2.png").unlink()
    write_image(ind / "mixed-2.png", srcs[1])
    code, outp, _ = run(["batch", ind, out, *M], capsys)
    assert code == 0 and "2 fused, 2 already done" in outp


def test_output_inside_input_folder(tmp_path, srcs, capsys):
    write_image(tmp_path / "p_A.png", srcs[0])
    write_image(tmp_path / "p_B.png", srcs[1])
    before = {p: p.read_bytes() for p in tmp_path.glob("*.png")}
    code, _, err = run(["batch", tmp_path, tmp_path, *M], capsys)
    assert code == 2 and "must differ" in err
    code, outp, _ = run(["batch", tmp_path, tmp_path / "fused", *M], capsys)
    assert code == 0 and (tmp_path / "fused" / "p.png").is_file()
    code, outp, _ = run(["batch", tmp_path, tmp_path / "fused", *M], capsys)  # outputs not taken as inputs
    assert code == 0 and "1 item(s): 0 fused, 1 already done" in outp
    assert {p: p.read_bytes() for p in tmp_path.glob("*.png")} == before
    # OUT_DIR above IN_DIR: an item's output that would land on an input file is refused
    ind = tmp_path / "in"
    (ind / "in").mkdir(parents=True)
    write_image(ind / "in" / "q_A.png", srcs[0])
    write_image(ind / "in" / "q_B.png", srcs[1])
    write_image(ind / "in" / "r_A.png", srcs[0])  # two groups: items named after the groups, not the folder
    write_image(ind / "in" / "r_B.png", srcs[1])
    write_image(ind / "q.png", srcs[2])  # an (unpaired) input exactly where OUT_DIR/in/q.png would go
    keep = (ind / "q.png").read_bytes()
    code, outp, _ = run(["batch", ind, tmp_path, *M], capsys)
    assert code == 1 and "1 fused" in outp and "refusing to overwrite" in outp
    assert (ind / "q.png").read_bytes() == keep and (ind / "r.png").is_file()


def _exact_source_samples(out, a, b):
    return bool(np.all((out == a) | (out == b)))


@pytest.mark.parametrize("ext,gray", [(".png", True), (".png", False), (".tif", False), (".tif", True)])
def test_16bit_round_trip_is_lossless(tmp_path, srcs, capsys, ext, gray):
    rng = np.random.default_rng(0)
    ind, out = tmp_path / "in", tmp_path / "out"
    ind.mkdir()
    a, b = srcs[0], srcs[1]
    if gray:
        a, b = a.mean(axis=2), b.mean(axis=2)
    # 16-bit samples that 8 bits cannot hold (values between the 8-bit levels)
    a16 = np.clip(np.round(a * 65535) + rng.integers(-90, 90, a.shape), 0, 65535).astype(np.uint16)
    b16 = np.clip(np.round(b * 65535) + rng.integers(-90, 90, b.shape), 0, 65535).astype(np.uint16)
    write_image(ind / f"s_A{ext}", a16 / np.float32(65535), bit_depth=16)
    write_image(ind / f"s_B{ext}", b16 / np.float32(65535), bit_depth=16)
    code, _, err = run(["batch", ind, out, *M], capsys)
    assert code == 0, err
    img, info = read_image(out / f"s{ext}")
    assert info.bit_depth == 16
    o16 = np.round(img * 65535).astype(np.uint16)
    assert _exact_source_samples(o16, a16, b16)
    assert np.mean(o16 == a16) > 0.2 and np.mean(o16 == b16) > 0.2


def _icc() -> bytes:
    from PIL import ImageCms

    prof = ImageCms.createProfile("sRGB")
    return ImageCms.ImageCmsProfile(prof).tobytes()


def _exif() -> bytes:
    from PIL import Image

    ex = Image.Exif()
    ex[0x010F] = "mfif-test-camera"  # Make
    return ex.tobytes()


@pytest.mark.parametrize("ext,bits", [(".png", 8), (".jpg", 8), (".png", 16)])
def test_exif_and_icc_carried_over(tmp_path, srcs, capsys, ext, bits):
    ind, out = tmp_path / "in", tmp_path / "out"
    ind.mkdir()
    icc, exif = _icc(), _exif()
    a, b = (np.atleast_3d(s) * np.ones(3, np.float32) for s in srcs[:2])  # RGB: 16-bit RGB PNG goes through OpenCV
    write_image(ind / f"m_A{ext}", a, icc_profile=icc, exif=exif, bit_depth=bits)
    write_image(ind / f"m_B{ext}", b, bit_depth=bits)
    code, _, err = run(["batch", ind, out, *M], capsys)
    assert code == 0, err
    _, info = read_image(out / f"m{ext}")
    assert info.bit_depth == bits
    assert info.icc_profile == icc
    assert info.exif is not None and b"mfif-test-camera" in info.exif


def test_tiff_icc_carried_over(tmp_path, srcs, capsys):
    ind, out = tmp_path / "in", tmp_path / "out"
    ind.mkdir()
    icc = _icc()
    write_image(ind / "t_A.tif", srcs[0], icc_profile=icc, bit_depth=16)
    write_image(ind / "t_B.tif", srcs[1], bit_depth=16)
    code, _, err = run(["batch", ind, out, *M], capsys)
    assert code == 0, err
    _, info = read_image(out / "t.tif")
    assert info.icc_profile == icc
