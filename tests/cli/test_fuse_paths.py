"""Path safety of ``mfif fuse``: no output may be an input or another output; ``-o FOLDER/``."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mfif.cli.main import main
from mfif.io import read_image, write_image

M = ["--method", "laplacian-argmax"]


@pytest.fixture
def pair(tmp_path, textured_pair):
    a, b, _, _ = textured_pair
    return write_image(tmp_path / "a.png", a), write_image(tmp_path / "b.png", b)


def run(argv, capsys):
    code = main([str(x) for x in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def snapshot(d):
    return {p: p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", ["map-is-input", "depth-is-input", "map-is-output", "depth-is-map", "dot-slash",
                                  "symlink", "case", "map-no-suffix-is-output"])
def test_collisions_refused_and_nothing_written(case, tmp_path, pair, capsys, monkeypatch):
    pa, pb = pair
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "f.png"
    extra: list = []
    if case == "map-is-input":
        extra = ["--map", pb]
    elif case == "depth-is-input":
        extra = ["--depth-map", pa]
    elif case == "map-is-output":
        extra = ["--map", out]
    elif case == "depth-is-map":
        extra = ["--map", tmp_path / "m.png", "--depth-map", tmp_path / "m.png"]
    elif case == "dot-slash":
        extra = ["--map", "./sub/../a.png"]
        (tmp_path / "sub").mkdir()
    elif case == "symlink":
        os.symlink(pa, tmp_path / "link.png")
        extra = ["--map", tmp_path / "link.png"]
    elif case == "case":
        extra = ["--map", tmp_path / "F.PNG"]
    else:
        out = tmp_path / "f"
        extra = ["--map", tmp_path / "f.png"]  # -o f writes f.png
    before = snapshot(tmp_path)
    code, _, err = run(["fuse", pa, pb, "-o", out, *M, *extra], capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mfif: error:"), err
    assert snapshot(tmp_path) == before  # nothing written, nothing overwritten, no stray temporary file


def test_output_into_existing_folder_gets_a_derived_name(tmp_path, pair, capsys):
    pa, pb = pair
    d = tmp_path / "outdir"
    d.mkdir()
    code, out, err = run(["fuse", pa, pb, "-o", f"{d}/", *M, "--map", d, "--depth-map", d], capsys)
    assert code == 0, err
    assert sorted(p.name for p in d.iterdir()) == ["a_depth.png", "a_fused.png", "a_map.png"]
    assert not (tmp_path / "outdir.png").exists()
    for name in ("a_fused.png", "a_map.png", "a_depth.png"):
        assert f"wrote {d / name}" in out
    assert "laplacian-argmax" in err and "2 frames" in err
    code, _, err = run(["fuse", pa, pb, "-o", f"{tmp_path / 'missing'}/", *M], capsys)
    assert code == 2 and "does not exist" in err and not (tmp_path / "missing.png").exists()


def test_folder_input_natural_order(tmp_path, capsys):
    """z1, z2, ..., z10 (not z1, z10, z2): the depth map's index k is the k-th frame in natural order."""
    d = tmp_path / "stack"
    d.mkdir()
    n, h, w = 10, 16, 40
    rng = np.random.default_rng(5)
    tex = rng.random((h, w)).astype(np.float32)
    for k in range(n):  # frame z{k+1} is sharp only in columns 4k..4k+3, flat (no detail) elsewhere
        img = np.full((h, w), 0.5, np.float32)
        img[:, 4 * k:4 * k + 4] = tex[:, 4 * k:4 * k + 4]
        write_image(d / f"z{k + 1}.png", img, bit_depth=16)
    code, _, err = run(["fuse", d, "-o", tmp_path / "f.png", "--depth-map", tmp_path / "dm.png", *M], capsys)
    assert code == 0, err
    dm, _ = read_image(tmp_path / "dm.png")
    idx = np.round(dm * (n - 1)).astype(int)
    cols = [np.bincount(idx[2:-2, 4 * k + 1:4 * k + 3].ravel(), minlength=n).argmax() for k in range(n)]
    assert cols == list(range(n))


def test_unexpected_exception_is_one_line_exit_1(tmp_path, pair, capsys, monkeypatch):
    import mfif.api

    def boom(*a, **k):
        raise RuntimeError("kaputt\nsecond line")

    monkeypatch.setattr(mfif.api, "fuse", boom)
    monkeypatch.delenv("MFIF_DEBUG", raising=False)
    code, _, err = run(["fuse", *pair, "-o", tmp_path / "f.png", *M], capsys)
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("mfif: fusing")]
    assert code == 1 and len(lines) == 1 and "RuntimeError: kaputt" in lines[0] and "Traceback" not in err
    assert not (tmp_path / "f.png").exists()
    monkeypatch.setenv("MFIF_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["fuse", *map(str, pair), "-o", str(tmp_path / "f.png"), *M])


def test_folder_output_into_the_input_folder_twice(tmp_path, pair, capsys):
    """-o INPUT_FOLDER/: the second run does not read the first run's outputs as frames."""
    d = pair[0].parent
    for _ in range(2):
        code, out, err = run(["fuse", d, "-o", f"{d}/", "--map", d, *M], capsys)
        assert code == 0 and "2 frames" in err, err
    name = d.name
    assert sorted(p.name for p in d.iterdir()) == sorted(["a.png", "b.png", f"{name}_fused.png", f"{name}_map.png"])


def test_unwritable_output_folder_one_line(tmp_path, pair, capsys):
    """/sys refuses new files even to root (a read-only output folder whoever runs the tests)."""
    import pathlib

    if not pathlib.Path("/sys").is_dir():
        pytest.skip("no /sys on this system")
    target = pathlib.Path("/sys/mfif-test-fused.png")
    code, _, err = run(["fuse", *pair, "-o", target, *M], capsys)
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("mfif: fusing")]
    assert code == 2 and len(lines) == 1 and "cannot write" in lines[0] and str(target) in lines[0], err
    assert not target.exists()


@pytest.mark.parametrize("target", ["no/such/dir/f.png", "f.gif"])
def test_bad_output_refused_before_any_reading(tmp_path, pair, capsys, monkeypatch, target):
    import mfif.cli.fuse as fuse_mod

    def no_read(*a, **k):
        raise AssertionError("sources read before the output was checked")

    monkeypatch.setattr(fuse_mod, "read_frames", no_read)
    code, _, err = run(["fuse", *pair, "-o", tmp_path / target, *M], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and target.split("/")[-1] in err, err
