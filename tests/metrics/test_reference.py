"""Reference measures (mfif.metrics.reference): band geometry, PSNR known answers, IoU, the ceiling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfif.metrics.reference import band_psnr, boundary_band, iou, psnr, psnr_from_mse


def _half_mask(n: int = 32) -> np.ndarray:
    m = np.zeros((n, n), np.float32)
    m[:, : n // 2] = 1  # columns 0..15 = A
    return m


def test_band_geometry() -> None:
    band = boundary_band(_half_mask(), 2)
    # distance to the other region: col 15 -> 1, col 14 -> 2 (inside); col 16 -> 1, col 17 -> 2 (outside)
    assert np.array_equal(np.flatnonzero(band.any(axis=0)), [14, 15, 16, 17])
    assert band.all(axis=0)[14:18].all() and band.sum() == 4 * 32
    assert not boundary_band(np.ones((8, 8)), 8).any()


def test_band_psnr_known_answer() -> None:
    # Error 0.1 in every channel on exactly the band pixels (4 columns of 32 at width 2):
    # band MSE = 0.01 -> 20 dB; whole-image MSE = 0.01 * 128/1024 -> 10*log10(800) = 29.031 dB.
    truth = np.full((32, 32, 3), 0.5, np.float32)
    fused = truth.copy()
    fused[:, 14:18] += 0.1
    m = _half_mask()
    assert band_psnr(fused, truth, m, 2) == pytest.approx(20.0, abs=1e-5)
    assert psnr(fused, truth) == pytest.approx(10 * math.log10(800), abs=1e-5)
    assert band_psnr(fused, truth, m, 1) == pytest.approx(20.0, abs=1e-5)  # the error covers the 1-px band too
    # errors only outside the band do not touch band PSNR
    fused2 = truth.copy()
    fused2[:, :4] = 0.0
    assert band_psnr(fused2, truth, m, 8) == math.inf


def test_identical_images_and_ceiling() -> None:
    x = np.full((4, 4), 0.25, np.float32)
    assert psnr(x, x) == math.inf
    assert psnr(x, x, max_db=100.0) == 100.0
    assert math.isnan(psnr(x, x, np.zeros((4, 4), bool)))
    # 8-bit scale: one grey level of error everywhere -> 10*log10(255^2) = 48.13 dB
    assert psnr(np.full((3, 3), 11.0), np.full((3, 3), 10.0), peak=255.0) == pytest.approx(20 * math.log10(255), abs=1e-12)
    assert psnr_from_mse(1e-12, max_db=100.0) == 100.0
    assert psnr_from_mse(1e-4) == pytest.approx(40.0, abs=1e-12)


def test_iou() -> None:
    a = np.zeros((4, 4))
    a[:2] = 1
    b = np.zeros((4, 4))
    b[1:3] = 1
    assert iou(a, b) == pytest.approx(4 / 12)
    assert iou(a, a) == 1.0
    assert iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0  # both empty
