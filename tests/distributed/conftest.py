"""Fixtures of the Dask tests: seeded multi-focus inputs written to folders, one shared 2-worker cluster."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter


def focus_stack(n: int, size: tuple[int, int], *, seed: int, rgb: bool = False) -> list[np.ndarray]:
    """``n`` seeded frames of one texture, frame k sharp in the k-th vertical band, blurred elsewhere.

    Returns:
        float32 [0, 1] frames, H×W (or H×W×3 with ``rgb``).
    """
    rng = np.random.default_rng(seed)
    h, w = size
    shape = (h, w, 3) if rgb else (h, w)
    sig = (0.8, 0.8, 0) if rgb else 0.8
    truth = gaussian_filter(rng.random(shape).astype(np.float32), sigma=sig)
    truth = (truth - truth.min()) / max(1e-6, float(truth.max() - truth.min()))
    bsig = (2.5, 2.5, 0) if rgb else 2.5
    blurred = gaussian_filter(truth, sigma=bsig)
    yy, xx = np.mgrid[0:h, 0:w]
    band = np.minimum(n - 1, ((xx + 6 * np.sin(yy / 7.0)) * n // w).astype(int))  # curved boundaries
    out = []
    for k in range(n):
        m = (band == k).astype(np.float32)
        if rgb:
            m = m[..., None]
        out.append(np.clip(truth * m + blurred * (1 - m), 0, 1).astype(np.float32))
    return out


def write_batch_folder(root: Path, *, n_pairs: int = 3, size: tuple[int, int] = (64, 80), seed: int = 0) -> None:
    """A batch input folder: ``n_pairs`` gray PNG pairs, one RGB JPEG pair, one 16-bit TIFF pair, a 3-frame stack."""
    from mfif.io import write_image

    root.mkdir(parents=True, exist_ok=True)
    for k in range(n_pairs):
        a, b = focus_stack(2, size, seed=seed + k)
        write_image(root / f"pair{k}_A.png", a)
        write_image(root / f"pair{k}_B.png", b)
    a, b = focus_stack(2, size, seed=seed + 100, rgb=True)
    write_image(root / "rgb_A.jpg", a)
    write_image(root / "rgb_B.jpg", b)
    a, b = focus_stack(2, size, seed=seed + 200)
    write_image(root / "deep_A.tif", a, bit_depth=16)
    write_image(root / "deep_B.tif", b, bit_depth=16)
    (root / "scene").mkdir(exist_ok=True)
    for k, f in enumerate(focus_stack(3, size, seed=seed + 300)):
        write_image(root / "scene" / f"frame{k + 1}.png", f)


@pytest.fixture(scope="package")
def cluster_address():
    """A 2-process ``LocalCluster`` shared by the tests that pass ``--scheduler``."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    yield cluster.scheduler_address
    cluster.close()
