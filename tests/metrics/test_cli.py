"""``mfif metrics`` command line (tiny files in tmp_path)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from mfif.cli.main import main
from mfif.metrics import METRIC_NAMES, evaluate


def _save(path, arr):  # noqa: ANN001, ANN202
    Image.fromarray(arr).save(path)
    return str(path)


@pytest.fixture
def triple(tmp_path, rng):  # noqa: ANN001, ANN201
    a = rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
    b = rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
    f = a.copy()
    f[:, 12:] = b[:, 12:]
    return a, b, f


def test_single_json(tmp_path, triple, capsys) -> None:  # noqa: ANN001
    a, b, f = triple
    paths = [_save(tmp_path / f"{n}.png", x) for n, x in zip("abf", triple)]
    assert main(["metrics", *paths, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == list(METRIC_NAMES)
    ref = evaluate(a, b, f)
    for k in METRIC_NAMES:
        assert out[k] == pytest.approx(ref[k], rel=1e-12)


def test_single_text_and_subset(tmp_path, triple, capsys) -> None:  # noqa: ANN001
    paths = [_save(tmp_path / f"{n}.png", x) for n, x in zip("abf", triple)]
    assert main(["metrics", *paths, "--metrics", "MI,QY", "--qy-mode", "faithful"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["MI", "QY"]


def test_errors_exit_2(tmp_path, triple, capsys) -> None:  # noqa: ANN001
    a, b, f = triple
    pa, pb = _save(tmp_path / "a.png", a), _save(tmp_path / "b.png", b)
    small = _save(tmp_path / "small.png", f[:-2])
    assert main(["metrics", pa, pb, small]) == 2
    assert "small.png" in capsys.readouterr().err
    assert main(["metrics", pa, pb]) == 2
    assert main(["metrics", pa, pb, str(tmp_path / "missing.png")]) == 2
    assert main(["metrics", pa, pb, pa, "--metrics", "NOPE"]) == 2


def test_folder_mode_csv(tmp_path, rng, capsys) -> None:  # noqa: ANN001
    src, fused = tmp_path / "src", tmp_path / "fused"
    src.mkdir()
    fused.mkdir()
    expect = {}
    for name in ("p01", "p02", "p03"):
        a = rng.integers(0, 256, size=(16, 16), dtype=np.uint8)
        b = rng.integers(0, 256, size=(16, 16), dtype=np.uint8)
        _save(src / f"{name}_A.png", a)
        _save(src / f"{name}_B.png", b)
        if name != "p03":  # p03 has no fused image: reported and skipped
            f = np.maximum(a, b)
            _save(fused / (f"{name}.png" if name == "p01" else f"{name}_CNN.png"), f)
            expect[name] = evaluate(a, b, f)
    out = tmp_path / "scores.csv"
    rc = main(["metrics", "--pairs", str(src), "--fused-dir", str(fused), "--tag", "CNN", "-o", str(out),
               "--no-progress"])
    assert rc == 0
    assert "p03" in capsys.readouterr().err
    rows = list(csv.DictReader(out.open()))
    assert [r["pair"] for r in rows] == ["p01", "p02"]
    assert list(rows[0])[4:] == list(METRIC_NAMES)
    for r in rows:
        for k in METRIC_NAMES:
            assert float(r[k]) == pytest.approx(expect[r["pair"]][k], rel=1e-9)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic write left nothing


def test_folder_mode_errors(tmp_path) -> None:  # noqa: ANN001
    assert main(["metrics", "--pairs", str(tmp_path)]) == 2
    assert main(["metrics", "--pairs", str(tmp_path), "--fused-dir", str(tmp_path / "nope")]) == 2
