"""Fixtures for the trainer tests: a tiny in-memory data source and the tiny config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _helpers import ROOT, ArraySource  # noqa: E402,F401


@pytest.fixture
def source() -> ArraySource:
    return ArraySource()


@pytest.fixture
def tiny_cfg():
    from mfif.training.config import load_config

    def make(*overrides: str):
        return load_config("tiny", list(overrides))

    return make


@pytest.fixture
def tiny_pack(tmp_path: Path) -> Path:
    """A 6-item pack on disk (2 val items) written with mfif.data.pack.write_pack."""
    from PIL import Image

    from mfif.data.pack import PackSource, write_pack

    r = np.random.default_rng(3)
    srcs = []
    for i in range(6):
        im = (r.random((40, 48, 3)) * 255).astype(np.uint8)
        p = tmp_path / f"im{i}.png"
        Image.fromarray(im).save(p)
        m = np.zeros((40, 48), np.float32)
        m[:, : 20 + i] = 1
        srcs.append(PackSource(id=f"im{i}", image=p, mask=m))
    out = tmp_path / "pack"
    write_pack(srcs, out, val_count=2, progress=False)
    return out
