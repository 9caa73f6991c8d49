"""Tiny on-disk datasets for the bench tests (3 pairs of 32 x 32)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from mfif.io import write_image


def make_pairs(root: Path, rng: np.random.Generator, *, n: int = 3, size: int = 32, prefix: str = "t") -> list[np.ndarray]:
    """Write ``{prefix}_NN_A.png`` / ``_B.png`` pairs (A sharp on the left); return the truths."""
    root.mkdir(parents=True, exist_ok=True)
    truths = []
    for i in range(1, n + 1):
        truth = gaussian_filter(rng.random((size, size, 3)), sigma=(0.8, 0.8, 0)).astype(np.float32)
        truth = (truth - truth.min()) / (truth.max() - truth.min())
        blur = gaussian_filter(truth, sigma=(2.0, 2.0, 0)).astype(np.float32)
        m = np.zeros((size, size, 1), np.float32)
        m[:, : size // 2] = 1
        write_image(root / f"{prefix}_{i:02d}_A.png", truth * m + blur * (1 - m))
        write_image(root / f"{prefix}_{i:02d}_B.png", blur * m + truth * (1 - m))
        truths.append(truth)
    return truths


@pytest.fixture
def tiny_dataset(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, list[np.ndarray]]:
    root = tmp_path / "data"
    return root, make_pairs(root, rng)
