"""``mfif batch`` over many small items with corrupt ones, and a run killed with SIGKILL then resumed.

The 1,000-item version is ``benchmarks/batch_kill.py``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mfif.cli.main import main
from mfif.io import read_image, write_image

M = ["--method", "laplacian-argmax", "--no-progress"]


def make_items(d: Path, n: int, *, size: int = 16, bad: tuple[int, ...] = (), seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        a = rng.random((size, size)).astype(np.float32)
        b = rng.random((size, size)).astype(np.float32)
        write_image(d / f"s{i}_A.png", a)
        pb = write_image(d / f"s{i}_B.png", b)
        if i in bad:
            pb.write_bytes(pb.read_bytes()[:40])  # truncated


def files(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())


def test_many_items_with_corrupt_ones(tmp_path, capsys):
    ind, out = tmp_path / "in", tmp_path / "out"
    bad = (7, 23)  # 2 of 40 = 5 %
    make_items(ind, 40, bad=bad)
    (ind / "readme.txt").write_text("not an image")
    (ind / "odd_1.png").write_bytes((ind / "s0_A.png").read_bytes())  # no partner
    code = main(["batch", str(ind), str(out), *M])
    stdout, err = capsys.readouterr()
    assert code == 1
    assert files(out) == sorted(f"s{i}.png" for i in range(40) if i not in bad)
    for i in range(40):
        if i not in bad:
            assert read_image(out / f"s{i}.png")[0].shape == (16, 16)
    failed = [ln for ln in stdout.splitlines() if ln.startswith("  FAILED")]
    assert sorted(ln.split()[1].rstrip(":") for ln in failed) == ["s23", "s7"]
    assert "readme.txt: not an image format" in stdout and "odd_1.png: no partner" in stdout
    assert "Traceback" not in err


def test_killed_batch_resumes_without_loss_duplicates_or_partial_files(tmp_path):
    ind, out, ref = tmp_path / "in", tmp_path / "out", tmp_path / "ref"
    n = 60
    make_items(ind, n, size=160, seed=1)
    cmd = [sys.executable, "-m", "mfif", "batch", str(ind), str(out), *M]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 240:
        if out.is_dir() and sum(1 for p in out.iterdir() if not p.name.startswith(".")) >= 5:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert 5 <= len(done) < n, "the batch was not killed halfway"
    for p in done:  # whatever was published is complete
        assert read_image(p)[0].shape == (160, 160)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"{len(done)} already done" in r.stdout
    assert files(out) == sorted(f"s{i}.png" for i in range(n))  # nothing lost, duplicated or left behind
    assert main(["batch", str(ind), str(ref), *M]) == 0
    for i in range(n):
        assert (out / f"s{i}.png").read_bytes() == (ref / f"s{i}.png").read_bytes()
