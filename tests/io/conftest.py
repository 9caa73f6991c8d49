"""Builders of test inputs in formats mfif only reads: a Bayer DNG that LibRaw reads, written by tifffile."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile


def write_dng(path, h=32, w=48, *, seed=0, sharp_left=True):
    """A Bayer RGGB DNG (H x W, 12-bit) of a neutral gray scene lit so that the sensor's R and B sites read
    half of G (AsShotNeutral 0.5/1/0.5, i.e. camera white-balance multipliers 2/1/2); a random texture
    on the left (``sharp_left``) or right half."""
    rng = np.random.default_rng(seed)
    scene = np.full((h, w), 0.35)
    half = slice(0, w // 2) if sharp_left else slice(w // 2, w)
    scene[:, half] += rng.uniform(-0.1, 0.1, (h, len(range(w)[half])))
    gain = np.ones((h, w))
    gain[0::2, 0::2] = 0.5  # R sites
    gain[1::2, 1::2] = 0.5  # B sites
    cfa = np.round(scene * gain * 4095).astype(np.uint16)
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern RGGB
        (50708, "s", 0, "mfif test camera", True),  # UniqueCameraModel
        (271, "s", 0, "mfif", True),
        (272, "s", 0, "test", True),
        (50717, "I", 1, 4095, True),  # WhiteLevel
        (50721, "2i", 9, (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1), True),  # ColorMatrix1 = I
        (50728, "2I", 3, (1, 2, 1, 1, 1, 2), True),  # AsShotNeutral
    ]
    tifffile.imwrite(path, cfa, photometric=32803, extratags=tags, subfiletype=0)
    return path


@pytest.fixture
def dng_writer():
    return write_dng
