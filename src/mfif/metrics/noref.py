"""No-reference metrics LIF, AG, MSD, GLD (functions of the fused image only).

They are not in the MATLAB toolbox and the MFIF-GAN authors published no code for them
(metrics-spec.md section 12). :data:`CANDIDATES` lists the definitions we tried; the ones used by
:func:`mfif.metrics.evaluate` are pinned in :data:`CHOSEN` from the evidence in docs/metrics.md
(``scripts/metrics_evidence.py`` scores the published fused images of the paper's compared methods
with every candidate and compares with the paper's Table 1).

Every candidate takes ``(gray, rgb)``: ``gray`` float64 H x W on 0..255 (MATLAB rgb2gray of the
fused image) and ``rgb`` float64 H x W x 3 on 0..255, or ``None`` for a gray image (then the gray
image is used).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Candidate = Callable[[np.ndarray, "np.ndarray | None"], float]


def _channels(gray: np.ndarray, rgb: np.ndarray | None) -> list[np.ndarray]:
    return [gray] if rgb is None else [rgb[..., k] for k in range(3)]


# -- LIF: Pal-King linear index of fuzziness -----------------------------------------------------


def _lif(x: np.ndarray, xmax: float) -> float:
    if xmax == 255.0 and x.min() >= 0 and x.max() <= 255:
        xi = x.astype(np.int64)
        if np.array_equal(xi, x):  # 8-bit data: 256-entry lookup table instead of a sin per pixel
            levels = np.arange(256, dtype=np.float64)
            mu = np.sin(np.pi / 2.0 * (1.0 - levels / xmax))
            counts = np.bincount(xi.ravel(), minlength=256)
            return float(2.0 / x.size * (counts * np.minimum(mu, 1.0 - mu)).sum())
    mu = np.sin(np.pi / 2.0 * (1.0 - x / xmax))
    return float(2.0 / x.size * np.minimum(mu, 1.0 - mu).sum())


def lif_sin_gray(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """Pal-King LIF on the gray image, mu = sin(pi/2 (1 - F/255)) (spec §12 candidate)."""
    return _lif(gray, 255.0)


def lif_sin_gray_max(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """As :func:`lif_sin_gray` with x_max = max(F)."""
    return _lif(gray, max(float(gray.max()), 1e-12))


def lif_sin_rgb(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """Pal-King LIF averaged over the R, G, B channels (x_max = 255)."""
    return float(np.mean([_lif(c, 255.0) for c in _channels(gray, rgb)]))


def lif_linear_gray(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """Linear index of fuzziness with mu = F/255."""
    mu = gray / 255.0
    return float(2.0 / gray.size * np.minimum(mu, 1.0 - mu).sum())


def lif_linear_rgb(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """Linear index of fuzziness with mu = F/255, mean over R, G, B."""
    return float(np.mean([lif_linear_gray(c, None) for c in _channels(gray, rgb)]))


# -- AG: average gradient -------------------------------------------------------------------------


def _ag_forward(x: np.ndarray) -> float:
    dx = x[1:, :-1] - x[:-1, :-1]
    dy = x[:-1, 1:] - x[:-1, :-1]
    return float(np.sqrt((dx * dx + dy * dy) / 2.0).sum() / ((x.shape[0] - 1) * (x.shape[1] - 1)))


def _ag_central(x: np.ndarray) -> float:
    gy, gx = np.gradient(x)
    return float(np.sqrt((gx * gx + gy * gy) / 2.0).sum() / ((x.shape[0] - 1) * (x.shape[1] - 1)))


def ag_fwd_gray(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """Forward differences, sqrt((dx^2 + dy^2)/2), mean over (M-1)(N-1), gray 0..255."""
    return _ag_forward(gray)


def ag_fwd_rgb(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """:func:`ag_fwd_gray` averaged over R, G, B."""
    return float(np.mean([_ag_forward(c) for c in _channels(gray, rgb)]))


def ag_central_gray(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """VIFB variant: MATLAB ``gradient`` (central differences), summed over M N, / (M-1)(N-1)."""
    return _ag_central(gray)


def ag_central_rgb(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """:func:`ag_central_gray` averaged over R, G, B (VIFB averages channels)."""
    return float(np.mean([_ag_central(c) for c in _channels(gray, rgb)]))


def ag_fwd_gray_01(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """:func:`ag_fwd_gray` on the [0, 1] scale (spec §12 candidate as run for the Lytro CSV)."""
    return _ag_forward(gray) / 255.0


# -- MSD: mean square deviation -------------------------------------------------------------------


def msd_var_gray01(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """Population variance of F/255 (gray) (spec §12 candidate)."""
    return float(np.var(gray / 255.0))


def msd_var_rgb01(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """Population variance of F/255, mean over R, G, B."""
    return float(np.mean([np.var(c / 255.0) for c in _channels(gray, rgb)]))


def msd_var_pooled01(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """Population variance of all R, G, B samples of F/255 pooled together."""
    x = (gray if rgb is None else rgb) / 255.0
    return float(np.var(x))


def msd_std_gray01(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """Standard deviation of F/255 (gray), i.e. VIFB's SD on [0, 1]."""
    return float(np.std(gray / 255.0))


# -- GLD: gray-level difference (sum-modulus-difference) ------------------------------------------


def _gld(x: np.ndarray) -> float:
    dx = np.abs(x[1:, :-1] - x[:-1, :-1])
    dy = np.abs(x[:-1, 1:] - x[:-1, :-1])
    return float((dx + dy).sum() / ((x.shape[0] - 1) * (x.shape[1] - 1)))


def gld_gray(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """|dx| + |dy| forward differences, mean over (M-1)(N-1), gray 0..255."""
    return _gld(gray)


def gld_rgb(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """:func:`gld_gray` averaged over R, G, B."""
    return float(np.mean([_gld(c) for c in _channels(gray, rgb)]))


def gld_gray_01(gray: np.ndarray, rgb: np.ndarray | None) -> float:
    """:func:`gld_gray` on the [0, 1] scale (spec §12 candidate as run for the Lytro CSV)."""
    return _gld(gray) / 255.0


CANDIDATES: dict[str, dict[str, Candidate]] = {
    "LIF": {
        "sin_gray": lif_sin_gray,
        "sin_gray_max": lif_sin_gray_max,
        "sin_rgb": lif_sin_rgb,
        "linear_gray": lif_linear_gray,
        "linear_rgb": lif_linear_rgb,
    },
    "AG": {
        "fwd_gray": ag_fwd_gray,
        "fwd_rgb": ag_fwd_rgb,
        "central_gray": ag_central_gray,
        "central_rgb": ag_central_rgb,
        "fwd_gray_01": ag_fwd_gray_01,
    },
    "MSD": {
        "var_gray01": msd_var_gray01,
        "var_rgb01": msd_var_rgb01,
        "var_pooled01": msd_var_pooled01,
        "std_gray01": msd_std_gray01,
    },
    "GLD": {
        "gray": gld_gray,
        "rgb": gld_rgb,
        "gray_01": gld_gray_01,
    },
}

#: The definitions used by :func:`mfif.metrics.evaluate`, pinned by ``scripts/metrics_evidence.py``
#: (docs/metrics.md): LIF matches the paper (0.2 % mean deviation over 20 method/dataset cells), GLD is
#: close (2.7 %), AG has the paper's shape up to a constant factor (paper = 0.371 x ours, CV 1.1 %),
#: MSD is not matched by any candidate (closest kept).
CHOSEN: dict[str, str] = {"LIF": "sin_rgb", "AG": "fwd_gray", "MSD": "var_pooled01", "GLD": "rgb"}
