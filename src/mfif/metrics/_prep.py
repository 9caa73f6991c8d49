"""Input preparation shared by all metrics: gray conversion on the 0..255 scale, ``normalize1``.

The reference MATLAB toolbox (Liu et al., TPAMI 2012) takes ``double(rgb2gray(uint8_image))``, i.e.
2-D float64 arrays on a 0..255 scale. This module reproduces that conversion exactly
(metrics-spec.md section 0), including MATLAB's half-away-from-zero rounding.
"""

from __future__ import annotations

import numpy as np

from mfif.errors import MfifError
from mfif.filters import luma


def round_half_away(x: np.ndarray) -> np.ndarray:
    """MATLAB ``round``: half away from zero (``np.round`` rounds half to even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _rgb_weighted(x: np.ndarray) -> np.ndarray:
    # MATLAB rgb2gray of a double image: the toolbox's exactness needs float64 arithmetic with the
    # rgb2gray weights in MATLAB's summation order (R*c0 + G*c1 + B*c2); mfif.filters.luma computes
    # exactly that when given float64. The toolbox-specific parts (half-away rounding and clipping for
    # 8-bit data, the 0..255 scale) stay in to_gray255.
    return luma(np.asarray(x, dtype=np.float64))


def _on_8bit_grid(x: np.ndarray) -> bool:
    """True when a float image in [0, 1] holds exactly k/255 values (an 8-bit image divided by 255)."""
    y = x.astype(np.float64) * 255.0
    return bool(np.all(np.abs(y - np.floor(y + 0.5)) < 1e-3))


def to_gray255(img: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Convert an input image to the toolbox's gray float64 0..255 scale.

    * ``uint8`` gray: cast; RGB: MATLAB ``rgb2gray`` (rounded half away, clipped to 0..255).
    * ``uint16``: divided by 257 (0..255 scale) and handled like float data: exact ``uint8`` path when
      every value is a multiple of 257, otherwise unrounded rgb2gray weights.
    * float in [0, 1]: if every value is k/255 (an 8-bit image read by :func:`mfif.io.read_image`),
      it is treated exactly as that ``uint8`` image; otherwise gray = rgb2gray weights without rounding
      (as MATLAB does for double input), times 255.

    Args:
        img: H x W, H x W x 1, H x W x 3 (or H x W x 4, alpha ignored) array.
        name: Argument name for error messages.

    Returns:
        float64 H x W array on 0..255.

    Raises:
        MfifError: unsupported shape or sample type, non-finite values, floats outside [0, 1].
    """
    x = np.asarray(img)
    if x.ndim == 3 and x.shape[2] in (1, 4):
        x = x[..., 0] if x.shape[2] == 1 else x[..., :3]
    if x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[2] != 3):
        raise MfifError(f"{name}: expected H x W or H x W x 3 image, got shape {x.shape}")
    if x.shape[0] < 2 or x.shape[1] < 2:
        raise MfifError(f"{name}: image of shape {x.shape} is too small (needs at least 2 x 2)")
    if x.dtype == np.uint8:
        if x.ndim == 2:
            return x.astype(np.float64)
        return np.clip(round_half_away(_rgb_weighted(x.astype(np.float64))), 0.0, 255.0)
    if x.dtype == np.uint16:
        # Rescaled by 1/257 to the 8-bit scale (as the reference runs did); 8-bit data stored in
        # 16 bits (v * 257) then takes the exact uint8 path below.
        return to_gray255(x.astype(np.float64) / 65535.0, name=name)
    if x.dtype == bool:
        x = x.astype(np.float64)
    if not np.issubdtype(x.dtype, np.floating):
        raise MfifError(f"{name}: unsupported sample type {x.dtype} (use uint8, uint16 or float in [0, 1])")
    if not np.all(np.isfinite(x)):
        raise MfifError(f"{name}: contains NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1e-6 or hi > 1.0 + 1e-6:
        raise MfifError(f"{name}: float image must be in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
    x = np.clip(x, 0.0, 1.0)
    if _on_8bit_grid(x):
        return to_gray255(np.floor(x.astype(np.float64) * 255.0 + 0.5).astype(np.uint8), name=name)
    x = x.astype(np.float64) * 255.0
    return _rgb_weighted(x) if x.ndim == 3 else x


def normalize1(x: np.ndarray) -> np.ndarray | None:
    """The toolbox's ``normalize1``: min-max stretch to integers 0..255.

    Args:
        x: float64 H x W on 0..255.

    Returns:
        int64 H x W in 0..255, the input unchanged (as integers) when it is all zero, or ``None``
        for a constant non-zero image (the toolbox divides 0/0 there).
    """
    mx, mn = float(x.max()), float(x.min())
    if mx == 0.0 and mn == 0.0:
        return x.astype(np.int64)
    if mx == mn:
        return None
    # Same evaluation order as MATLAB: ((X - mn) / (mx - mn)) * 255, then round half away.
    return np.floor((x - mn) / (mx - mn) * 255.0 + 0.5).astype(np.int64)
