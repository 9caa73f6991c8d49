"""DWT fusion: discrete wavelet transform, average lowpass, choose-max with consistency check.

The classical multi-scale baseline as in Liu's MST fusion toolbox and the MFIF survey (Liu et al.,
Information Fusion 2020): decompose every source with a 2-D DWT (PyWavelets), average the coarsest
approximation, and fuse each detail subband with "choose-max with consistency check" (Li,
Manjunath, Mitra 1995: activity = 3x3 local max of |c|, pick the larger, 3x3 majority vote);
then invert. Colour: per RGB channel. N > 2 sources are fused sequentially.

Defaults (see docs/baselines.md "Parity" for how they compare with the survey's outputs):
``wavelet="haar"``, ``level=4``, ``mode="periodization"``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pywt

from mfif.baselines._common import check_images, check_option, choose_max_consistency, fuse_sequential, per_channel
from mfif.registry import FusionResult, register_method


def fuse_dwt_gray(
    a: np.ndarray, b: np.ndarray, *, wavelet: str, level: int, mode: str, consistency: bool = True
) -> np.ndarray:
    """Fuse two gray images (any scale) with the DWT rule. Returns float64 H x W."""
    ca = pywt.wavedec2(np.asarray(a, np.float64), wavelet, mode=mode, level=level)
    cb = pywt.wavedec2(np.asarray(b, np.float64), wavelet, mode=mode, level=level)
    out = [(ca[0] + cb[0]) / 2.0]
    for da, db in zip(ca[1:], cb[1:]):
        bands = []
        for x, y in zip(da, db):
            if consistency:
                bands.append(choose_max_consistency(x, y))
            else:
                bands.append(np.where(np.abs(x) >= np.abs(y), x, y))
        out.append(tuple(bands))
    rec = pywt.waverec2(out, wavelet, mode=mode)
    return rec[: a.shape[0], : a.shape[1]]


def _pair(images, *, wavelet, level, mode, consistency):
    fused = per_channel(
        lambda ch: fuse_dwt_gray(ch[0], ch[1], wavelet=wavelet, level=level, mode=mode, consistency=consistency),
        images,
    )
    return FusionResult(fused=np.clip(fused, 0.0, 1.0).astype(np.float32))


@register_method(
    "dwt",
    description="Discrete wavelet transform: average lowpass, choose-max + consistency on details (MST toolbox)",
    max_inputs=None,
    citation="H. Li, B.S. Manjunath, S.K. Mitra, Graph. Models Image Process. 57(3), 1995; Liu et al., Inf. Fusion 2015",
)
def dwt_fuse(
    images: Sequence[np.ndarray],
    *,
    wavelet: str = "haar",
    level: int = 4,
    mode: str = "periodization",
    consistency: bool = True,
) -> FusionResult:
    """DWT fusion of N >= 2 sources (pairwise rule, applied sequentially for N > 2).

    Args:
        images: All H x W or all H x W x 3, float32 [0, 1].
        wavelet: PyWavelets wavelet name.
        level: Number of decomposition levels (>= 1).
        mode: PyWavelets signal-extension mode.
        consistency: Use the 3x3 consistency check (False = plain max-abs selection).

    Returns:
        FusionResult with ``fused`` only (the rule works per coefficient, there is no pixel map).
    """
    m = "dwt"
    imgs = check_images(images, method=m)
    check_option(m, "wavelet", wavelet, wavelet in pywt.wavelist(kind="discrete"), "a discrete PyWavelets wavelet")
    check_option(m, "level", level, isinstance(level, int) and level >= 1, "an integer >= 1")
    check_option(m, "mode", mode, mode in pywt.Modes.modes, f"one of {', '.join(pywt.Modes.modes)}")
    return fuse_sequential(_pair, imgs, wavelet=wavelet, level=level, mode=mode, consistency=consistency)
