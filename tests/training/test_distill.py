"""Teacher maps for distillation: reading teacher-*.npz files and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mfif.errors import MfifError
from mfif.training.distill import load_teacher


def _write(path: Path, items, *, h: int = 6, w: int = 5, quant: int = 32, **over) -> Path:
    n = len(items)
    maps = (np.arange(n * h * w).reshape(n, h, w) % (quant + 1)).astype(np.uint8)
    data = dict(maps=maps, sigma=np.linspace(0.8, 2.0, n).astype(np.float32), index=np.asarray(items, np.int32),
                quant=np.int32(quant), seed=np.int32(2026))
    data.update(over)
    np.savez_compressed(path, **{k: v for k, v in data.items() if v is not None})
    return path


def test_folder_and_single_file(tmp_path):
    _write(tmp_path / "teacher-0.npz", [4, 1])
    _write(tmp_path / "teacher-1.npz", [7])
    (tmp_path / "other.npz").write_bytes(b"not read")  # only teacher-*.npz files belong to a folder
    t = load_teacher(tmp_path)
    assert sorted(t) == [1, 4, 7]
    sigma, m = t[1]
    # item 1 is the second map of teacher-0: values (30 + k) % 33 for k = 0..29, divided by quant = 32
    expected = ((30 + np.arange(30)) % 33).reshape(6, 5) / 32
    assert m.dtype == np.float32 and m.shape == (6, 5)
    np.testing.assert_array_equal(m, expected.astype(np.float32))
    assert sigma == pytest.approx(2.0) and t[4][0] == pytest.approx(0.8) and t[7][0] == pytest.approx(0.8)
    assert 0.0 <= m.min() and m.max() <= 1.0
    one = load_teacher(tmp_path / "teacher-1.npz")
    assert list(one) == [7]


def test_errors_are_one_line(tmp_path):
    with pytest.raises(MfifError, match="not found"):
        load_teacher(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MfifError, match="no teacher-\\*.npz files"):
        load_teacher(tmp_path / "empty")
    bad = _write(tmp_path / "keys.npz", [0], index=None, maps=None)
    with pytest.raises(MfifError, match=r"missing key\(s\) maps, index"):
        load_teacher(bad)
    with pytest.raises(MfifError, match="shape mismatch"):
        load_teacher(_write(tmp_path / "len.npz", [0, 1], sigma=np.ones(3, np.float32)))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _write(mixed / "teacher-0.npz", [0])
    _write(mixed / "teacher-1.npz", [1], h=7)
    with pytest.raises(MfifError, match="shape mismatch"):
        load_teacher(mixed)
    dup = tmp_path / "dup"
    dup.mkdir()
    _write(dup / "teacher-0.npz", [0, 3])
    _write(dup / "teacher-1.npz", [3])
    with pytest.raises(MfifError, match="pack item 3 has a teacher map twice"):
        load_teacher(dup)
    with pytest.raises(MfifError, match="outside"):
        load_teacher(_write(tmp_path / "range.npz", [0], maps=np.full((1, 6, 5), 33, np.uint8)))  # 33 > quant
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(MfifError, match="not a readable .npz"):
        load_teacher(tmp_path / "junk.npz")
    with pytest.raises(MfifError) as info:
        load_teacher(tmp_path / "missing")
    assert "\n" not in str(info.value) and str(tmp_path / "missing") in str(info.value)


def test_save_teacher_round_trips_through_load_teacher(tmp_path):
    """The writer used on the device and the trainer's reader share one format (chunked, quantised)."""
    from mfif.training.distill import QUANT, load_teacher, save_teacher

    rng = np.random.default_rng(0)
    probs = rng.random((5, 6, 7)).astype(np.float32)
    probs[0, 0, 0], probs[0, 0, 1] = 0.0, 1.0
    files = save_teacher(tmp_path / "t", probs, np.linspace(0.8, 2.0, 5), np.arange(10, 15), seed=3, chunk=2)
    assert [f.name for f in files] == ["teacher-0.npz", "teacher-1.npz", "teacher-2.npz"]
    got = load_teacher(tmp_path / "t")
    assert sorted(got) == [10, 11, 12, 13, 14]
    for k in range(5):
        sigma, m = got[10 + k]
        assert sigma == pytest.approx(np.linspace(0.8, 2.0, 5)[k], abs=1e-6)
        # quantised to 1/QUANT: at most half a step from the original probability
        assert np.abs(m - probs[k]).max() <= 0.5 / QUANT + 1e-7
    assert got[10][1][0, 0] == 0.0 and got[10][1][0, 1] == 1.0
    with pytest.raises(MfifError, match="save_teacher"):
        save_teacher(tmp_path / "u", probs, np.ones(4), np.arange(5))
