"""Parity with the original MATLAB implementations on one survey pair (needs ../shared).

Reference: ../shared/data/reference/survey-gray/Results/grayscale/g_10_<method>.tif, produced by the
authors' original codes (yuliu316316/MFIF survey). Thresholds are the project's parity targets
(issue 7): >= 99.9 % identical 8-bit pixels or >= 50 dB PSNR. Measured on this pair when written:
gff 99.99 % / 87 dB, quadtree 99.82 % / 69 dB, dsift 99.99 % / 89 dB (scripts/baseline_parity.py).
Quadtree with MATLAB's approximated strel('disk', 3) (the 5 x 5 square, now the default) is bit-exact
on g_06, g_09 and g_10 (and 7 more pairs; 94.6 dB on g_03), which the exact disk missed by 0.1–2 %.
"""

from __future__ import annotations

import numpy as np
import pytest

from mfif.io import read_image
from mfif.metrics.reference import psnr
from mfif.registry import get_method

pytestmark = pytest.mark.shared


def _u8(x):
    return np.clip(np.floor(np.round(np.asarray(x, np.float64) * 255.0, 4) + 0.5), 0, 255)


@pytest.mark.parametrize("name", ["gff", "quadtree", "dsift"])
def test_parity_g10(name, shared_dir):
    root = shared_dir / "data" / "reference" / "survey-gray"
    a, _ = read_image(root / "sourceimages" / "grayscale" / "g_10_1.tif")
    b, _ = read_image(root / "sourceimages" / "grayscale" / "g_10_2.tif")
    ref, _ = read_image(root / "Results" / "grayscale" / f"g_10_{name}.tif")
    out = _u8(get_method(name).fn([a, b]).fused)
    ref = _u8(ref)
    identical = np.mean(out == ref)
    assert identical >= 0.999 or psnr(out, ref, peak=255.0) >= 50.0


@pytest.mark.parametrize("pair", ["g_06", "g_09", "g_10"])
def test_quadtree_bit_exact_with_matlab_disk(pair, shared_dir):
    root = shared_dir / "data" / "reference" / "survey-gray"
    a, _ = read_image(root / "sourceimages" / "grayscale" / f"{pair}_1.tif")
    b, _ = read_image(root / "sourceimages" / "grayscale" / f"{pair}_2.tif")
    ref, _ = read_image(root / "Results" / "grayscale" / f"{pair}_quadtree.tif")
    out = _u8(get_method("quadtree").fn([a, b]).fused)
    assert np.array_equal(out, _u8(ref))
