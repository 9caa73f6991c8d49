"""Shared test fixtures.

``shared_dir`` points at ../shared (the read-only project material); tests that need it are marked
``@pytest.mark.shared`` and skipped when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MFIF_SHARED", ROOT.parent / "shared"))


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    if (SHARED / "data").is_dir():
        return
    skip = pytest.mark.skip(reason=f"{SHARED} not present")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def shared_dir() -> Path:
    if not (SHARED / "data").is_dir():
        pytest.skip(f"{SHARED} not present")
    return SHARED


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def textured_pair(rng: np.random.Generator):
    """A tiny seeded multi-focus pair: A sharp on the left half, B sharp on the right half.

    Returns (a, b, truth, mask) float32 arrays, 64 x 64 x 3; mask 1 where A is sharp.
    """
    from scipy.ndimage import gaussian_filter

    h = w = 64
    truth = rng.random((h, w, 3)).astype(np.float32)
    truth = gaussian_filter(truth, sigma=(0.7, 0.7, 0)).astype(np.float32)
    blurred = gaussian_filter(truth, sigma=(2.0, 2.0, 0)).astype(np.float32)
    mask = np.zeros((h, w), np.float32)
    mask[:, : w // 2] = 1.0
    m3 = mask[..., None]
    a = truth * m3 + blurred * (1 - m3)
    b = blurred * m3 + truth * (1 - m3)
    return a.astype(np.float32), b.astype(np.float32), truth, mask
