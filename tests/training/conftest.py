"""Fixtures for the trainer tests: a tiny in-memory data source and the tiny config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


class ArraySource:
    """Pack-like source: random textures, vertical-edge masks; items 0-3 train, 4-5 val."""

    def __init__(self, n: int = 6, h: int = 40, w: int = 48, seed: int = 0) -> None:
        from scipy.ndimage import gaussian_filter

        r = np.random.default_rng(seed)
        self.imgs = [gaussian_filter(r.random((h, w, 3)), (0.6, 0.6, 0)).astype(np.float32) for _ in range(n)]
        self.masks = []
        for i in range(n):
            m = np.zeros((h, w), np.float32)
            m[:, : w // 2 - 3 + i] = 1
            self.masks.append(m)

    def __len__(self) -> int:
        return len(self.imgs)

    def load_image(self, i: int) -> np.ndarray:
        return self.imgs[i]

    def load_mask(self, i: int) -> np.ndarray:
        return self.masks[i]

    def indices(self, split: str | None) -> list[int]:
        if split == "train":
            return [0, 1, 2, 3]
        if split == "val":
            return [4, 5]
        return list(range(len(self)))


@pytest.fixture
def source() -> ArraySource:
    return ArraySource()


@pytest.fixture
def tiny_cfg():
    from mfif.training.config import load_config

    def make(*overrides: str):
        return load_config(ROOT / "configs" / "tiny.yaml", list(overrides))

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
