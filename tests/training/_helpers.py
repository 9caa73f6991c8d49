"""Shared helpers of the trainer tests (importable by path: tests run in importlib mode)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
