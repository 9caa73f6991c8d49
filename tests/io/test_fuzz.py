"""Property-based fuzzing of ``mfif fuse`` over real files (hypothesis, derandomized).

Random sizes (1x1 up to 4000 rows or columns), 8/16-bit and float TIFF samples (NaN, +-inf, out of
range), 1-4 channels, every supported format written correctly, truncated or with flipped bytes,
mismatched frames, names with spaces and non-ASCII letters, symlinked inputs, read-only output
folders. The CLI runs in-process with a fast classical method. Properties:

* exit 0 with a correct output (the sources' size; every pixel one of the sources' pixels for the
  lossless formats, as laplacian-argmax copies pixels), or exit 2 with one ``mfif: error:`` line;
* never a traceback, and the folder afterwards holds exactly the inputs, unchanged, plus the output
  on success: no partial, overwritten or stray file.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mfif.cli.main import main
from mfif.io import read_image, to_rgb

FORMATS = [".png", ".jpg", ".tif", ".bmp", ".dng", ".heic"]
NAMES = ["a", "b c", "Übersicht", "焦点 1", "x-y_z", "Ä b"]
RUNS = {"cases": 0, "ok": 0, "error": 0}


def _encode(path: Path, arr: np.ndarray, fmt: str) -> None:
    """Write ``arr`` (uint8/uint16/float32, H x W or H x W x C) as ``fmt``, any way the format allows."""
    if fmt == ".tif":
        photometric = "rgb" if arr.ndim == 3 and arr.shape[2] in (3, 4) else "minisblack"
        extra = {"extrasamples": ["unassalpha"]} if arr.ndim == 3 and arr.shape[2] in (2, 4) else {}
        tifffile.imwrite(path, arr, photometric=photometric, **extra)
        return
    a8 = arr if arr.dtype == np.uint8 else np.clip(np.nan_to_num(arr.astype(np.float64)) / (65535 if arr.dtype == np.uint16 else 1) * 255, 0, 255).astype(np.uint8)
    if fmt == ".png" and arr.dtype == np.uint16 and arr.ndim == 2:
        Image.fromarray(arr).save(path, format="PNG")
        return
    if fmt in (".jpg", ".bmp", ".heic") and a8.ndim == 3 and a8.shape[2] in (2, 4):
        a8 = a8[..., :3] if a8.shape[2] == 4 else a8[..., 0]
    if a8.ndim == 3 and a8.shape[2] == 1:
        a8 = a8[..., 0]
    if a8.ndim == 3 and a8.shape[2] == 2:
        im = Image.fromarray(a8, "LA")
    else:
        im = Image.fromarray(a8)
    if fmt == ".heic":
        from pillow_heif import register_heif_opener

        register_heif_opener()
        im.convert("RGB").save(path, format="HEIF", quality=90)
        return
    im.save(path, format={".png": "PNG", ".jpg": "JPEG", ".bmp": "BMP"}[fmt])


@st.composite
def cases(draw):
    small, usual = st.integers(1, 12), st.integers(8, 96)
    h = draw(st.one_of(small, usual, usual, usual, st.sampled_from([3, 4000])))
    w = draw(st.one_of(small, usual, usual, usual)) if h < 1000 else draw(st.integers(1, 3))
    if draw(st.booleans()) and h < 1000:  # sometimes the tall/wide extreme the other way round
        h, w = (w, h) if w <= 3 else (h, w)
    fmt = draw(st.sampled_from(FORMATS))
    dtype = draw(st.sampled_from(["uint8", "uint16", "float32"] if fmt == ".tif" else ["uint8", "uint16"]))
    ch = draw(st.sampled_from([1, 2, 3, 4]))
    n = draw(st.integers(2, 4))
    corrupt = draw(st.sampled_from(["none"] * 8 + ["truncate", "flip", "garbage", "empty"]))
    mismatch = draw(st.sampled_from(["none"] * 6 + ["size", "channels", "depth"]))
    specials = dtype == "float32" and draw(st.integers(0, 3)) == 0
    name = draw(st.sampled_from(NAMES))
    link = draw(st.booleans())
    readonly = draw(st.integers(0, 5)) == 0
    out_fmt = draw(st.sampled_from([".png", ".tif", ".jpg", ".bmp", ""]))
    seed = draw(st.integers(0, 2**16))
    collide = draw(st.sampled_from(["none"] * 12 + ["input", "input-dotted", "map-is-output", "depth-is-input"]))
    preexisting = draw(st.integers(0, 3)) == 0
    return dict(h=h, w=w, fmt=fmt, dtype=dtype, ch=ch, n=n, corrupt=corrupt, mismatch=mismatch, specials=specials,
                name=name, link=link, readonly=readonly, out_fmt=out_fmt, seed=seed, collide=collide,
                preexisting=preexisting)


def _frame(rng, h, w, ch, dtype, specials):
    shape = (h, w) if ch == 1 else (h, w, ch)
    if dtype == "uint8":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if dtype == "uint16":
        return rng.integers(0, 65536, shape, dtype=np.uint16)
    a = rng.uniform(-0.2, 1.2, shape).astype(np.float32)
    if specials:
        flat = a.reshape(-1)
        k = rng.integers(0, flat.size, 3)
        flat[k] = rng.choice(np.array([np.nan, np.inf, -np.inf], np.float32), 3)
    return a


def _check_case(c, dng_writer):
    rng = np.random.default_rng(c["seed"])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src_dir, out_dir = root / "in put", root / "ausgabe ü"
        src_dir.mkdir()
        out_dir.mkdir()
        paths = []
        for k in range(c["n"]):
            h, w, ch, dtype = c["h"], c["w"], c["ch"], c["dtype"]
            if k == c["n"] - 1:
                if c["mismatch"] == "size":
                    h, w = h + 1, max(1, w - 1) if w > 1 else w + 1
                elif c["mismatch"] == "channels":
                    ch = 3 if ch != 3 else 1
                elif c["mismatch"] == "depth" and c["fmt"] in (".png", ".tif"):
                    dtype = "uint8" if dtype != "uint8" else "uint16"
            p = src_dir / f"{c['name']} {k}{c['fmt']}"
            if c["fmt"] == ".dng":
                dng_writer(p, max(h, 24), max(w, 24), seed=c["seed"] + k)  # LibRaw wants some size
            else:
                _encode(p, _frame(rng, h, w, ch, dtype, c["specials"]), c["fmt"])
            paths.append(p)
        victim = paths[int(rng.integers(0, len(paths)))]
        raw = victim.read_bytes()
        if c["corrupt"] == "truncate":
            victim.write_bytes(raw[: int(rng.integers(0, max(1, len(raw) - 1)))])
        elif c["corrupt"] == "flip":
            b = bytearray(raw)
            for i in rng.integers(0, len(b), max(1, len(b) // 50)):
                b[i] ^= 0xFF
            victim.write_bytes(bytes(b))
        elif c["corrupt"] == "garbage":
            victim.write_bytes(rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
        elif c["corrupt"] == "empty":
            victim.write_bytes(b"")
        if c["link"]:
            target = paths[0]
            paths[0] = src_dir / f"link {c['name']}{c['fmt']}"
            os.symlink(target, paths[0])
        out = out_dir / f"fused {c['name']}{c['out_fmt']}"
        final = out if c["out_fmt"] else out.with_suffix(".png")
        extra: list[str] = []
        if c["collide"] == "input":
            out = paths[-1]
        elif c["collide"] == "input-dotted":
            out = src_dir / "." / ".." / src_dir.name / paths[0].name
        elif c["collide"] == "map-is-output":
            extra = ["--map", str(final)]
        elif c["collide"] == "depth-is-input":
            extra = ["--depth-map", str(paths[0])]
        if c["preexisting"]:
            final.write_bytes(b"an earlier result")
        if c["readonly"]:
            out_dir.chmod(0o555)
        before = {p: (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}
        err, std = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
                code = main(["fuse", *map(str, paths), "-o", str(out), "--method", "laplacian-argmax", *extra])
        finally:
            out_dir.chmod(0o755)
        e = err.getvalue()
        RUNS["cases"] += 1
        assert code in (0, 2), (c, e)
        assert "Traceback" not in e, (c, e)
        after = {p: (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}
        if code == 2:
            lines = [ln for ln in e.strip().splitlines() if not ln.startswith(("mfif: note:", "mfif: fusing"))]
            assert len(lines) == 1 and lines[0].startswith("mfif: error:"), (c, e)
            assert after == before, (c, e)
            return "error"
        assert c["collide"] == "none", (c, e)
        assert set(after) - set(before) <= {final} and final in after, (c, e, sorted(set(after) ^ set(before)))
        assert all(after[p] == before[p] for p in before if p != final), c
        fused, _ = read_image(final)
        srcs = [read_image(p)[0] for p in paths]
        if fused.ndim == 3:
            srcs = [to_rgb(s) for s in srcs]
        assert fused.shape[:2] == srcs[0].shape[:2], c
        if final.suffix in (".png", ".tif", ".bmp") and c["fmt"] not in (".jpg", ".heic", ".dng") and True:
            step = 1 / 255 if final.suffix == ".bmp" or max(read_image(p)[1].bit_depth for p in paths) == 8 else 1 / 65535
            d = np.min([np.abs(fused - s).reshape(fused.shape[0], fused.shape[1], -1).max(axis=2) for s in srcs], axis=0)
            assert d.max() <= step * 0.51 + 1e-6, (c, d.max())
        return "ok"


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=250, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(c=cases())
def test_fuse_never_crashes_never_leaves_files(c, dng_writer):
    RUNS[_check_case(c, dng_writer)] += 1


def test_fuzz_ran_cases():
    """Reports the number of cases the property test ran (pytest -s shows it)."""
    print(f"fuzz: {RUNS['cases']} cases: {RUNS['ok']} fused (exit 0), {RUNS['error']} refused (exit 2)")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_file_one_stderr_line_in_a_real_process(tmp_path, fmt, damage, dng_writer):
    """The whole stderr of the process (C libraries included) is the one error line."""
    import subprocess
    import sys

    rng = np.random.default_rng(7)
    good, bad = tmp_path / f"good{fmt}", tmp_path / f"bad{fmt}"
    for p in (good, bad):
        if fmt == ".dng":
            dng_writer(p, 24, 24)
        else:
            _encode(p, rng.integers(0, 65536, (24, 24, 3), dtype=np.uint16), fmt)
    raw = bytearray(bad.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 3]
    else:
        for i in range(8, len(raw), 7):
            raw[i] ^= 0x5A
    bad.write_bytes(bytes(raw))
    r = subprocess.run([sys.executable, "-m", "mfif", "fuse", str(good), str(bad), "-o", str(tmp_path / "o.png"),
                        "--method", "laplacian-argmax"], capture_output=True, text=True, timeout=300)
    lines = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith(("mfif: note:", "mfif: fusing"))]
    if r.returncode == 0:  # a damage the decoder tolerates (e.g. flipped bits inside JPEG data): an output
        assert (tmp_path / "o.png").exists() and not lines, r.stderr
    else:
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("mfif: error:") and "bad" in lines[0], r.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([good.name, bad.name])
