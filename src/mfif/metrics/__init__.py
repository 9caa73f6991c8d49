"""The twelve fusion-quality metrics of the MFIF-GAN paper, exact to the MATLAB toolbox.

MI, TE, NCIE, QG, QM, SF, QY, QCB reproduce ``zhengliu6699/imageFusionMetrics`` (Liu et al., TPAMI
2012) as specified in ``../shared/docs/metrics-spec.md`` (quirks included: TE's swapped marginals,
QG's constants/atan/zero padding, QM on the 0..255 scale, MATLAB rgb2gray and half-away rounding).
LIF, AG, MSD, GLD are no-reference metrics whose definitions were pinned from evidence
(docs/metrics.md, :mod:`mfif.metrics.noref`).

Example::

    from mfif.metrics import evaluate, METRICS
    scores = evaluate(a, b, fused)          # dict MI ... GLD -> float
    METRICS["QY"].direction                 # "higher"
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from mfif.errors import MfifError
from mfif.metrics import noref
from mfif.metrics._core import Triple, contrast_maps
from mfif.metrics._prep import to_gray255

__all__ = ["METRICS", "METRIC_NAMES", "MetricInfo", "evaluate", "evaluate_gray255", "QY_MODES"]

METRIC_NAMES: tuple[str, ...] = ("MI", "TE", "NCIE", "QG", "QM", "SF", "QY", "QCB", "LIF", "AG", "MSD", "GLD")
QY_MODES = ("stable", "faithful")
_THREAD_MIN_PIXELS = 128 * 128


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of one metric.

    Attributes:
        name: Key in :data:`METRICS` and in :func:`evaluate`'s result.
        symbol: Symbol used in the paper / literature.
        direction: ``"higher"`` or ``"lower"`` is better, or ``"zero"`` (closer to 0 is better).
        reference: Where the definition comes from.
        fn: ``fn(a, b, fused, **options) -> float`` computing only this metric.
        description: One line.
    """

    name: str
    symbol: str
    direction: str
    reference: str
    fn: Callable[..., float]
    description: str


def _single(name: str) -> Callable[..., float]:
    def fn(a: np.ndarray, b: np.ndarray, fused: np.ndarray, **options: object) -> float:
        return evaluate(a, b, fused, metrics=[name], **options)[name]  # type: ignore[arg-type]

    fn.__name__ = name.lower()
    fn.__doc__ = f"Compute only {name}; see :func:`mfif.metrics.evaluate`."
    return fn


_TOOLBOX = "Liu et al., TPAMI 34(1) 2012, toolbox zhengliu6699/imageFusionMetrics"
_INFO = [
    ("MI", "Q_MI", "higher", f"Hossny et al., Electron. Lett. 2008; {_TOOLBOX} metricMI(...,1)",
     "normalised mutual information, 2*(I(A;F)/(H(A)+H(F)) + I(B;F)/(H(B)+H(F)))"),
    ("TE", "Q_TE", "higher", f"Nava et al. 2007 (Tsallis, q=0.43137); {_TOOLBOX} metricMI(...,3)",
     "Tsallis-entropy metric with the toolbox's swapped marginals"),
    ("NCIE", "Q_NCIE", "higher", f"Wang, Shen & Zhang, 2005/2008; {_TOOLBOX} metricWang",
     "nonlinear correlation information entropy"),
    ("QG", "Q_G", "higher", f"Xydeas & Petrovic, Electron. Lett. 2000; {_TOOLBOX} metricXydeas",
     "gradient-based Q^AB/F (toolbox constants, atan, per-pixel pooling)"),
    ("QM", "Q_M", "higher", f"P.-W. Wang & B. Liu, ICSP 2008; {_TOOLBOX} metricPWW",
     "two-level Haar multiscale edge-preservation metric on the 0..255 scale"),
    ("SF", "Q_SF", "zero", f"Zheng et al., Inf. Fusion 2007; {_TOOLBOX} metricZheng",
     "(SF_F - SF_R)/SF_R, spatial-frequency ratio to the max-gradient reference (<= 0, 0 ideal)"),
    ("QY", "Q_Y", "higher", f"Yang et al., Inf. Fusion 2008; {_TOOLBOX} metricYang",
     "SSIM-based metric (stable mode by default, faithful mode on request)"),
    ("QCB", "Q_CB", "higher", f"Chen & Blum, Image Vis. Comput. 2009; {_TOOLBOX} metricChenBlum",
     "human-perception (contrast sensitivity) metric"),
    ("LIF", "LIF", "lower", "Pal & King, IEEE TSMC 1981 (linear index of fuzziness); definition pinned in docs/metrics.md",
     "Pal-King linear index of fuzziness of F, mu = sin(pi/2 (1 - F/255)), mean over R, G, B"),
    ("AG", "AG", "higher", "average gradient (e.g. Cui et al., Opt. Commun. 2015); definition pinned in docs/metrics.md",
     "mean of sqrt((dx^2 + dy^2)/2), forward differences of gray F on 0..255 (paper's values are ~0.371x this)"),
    ("MSD", "MSD", "higher", "mean square deviation (variance) of F; definition pinned in docs/metrics.md",
     "population variance of all R, G, B samples of F/255 (closest candidate; paper not matched)"),
    ("GLD", "GLD", "higher", "gray-level difference / sum-modulus-difference; definition pinned in docs/metrics.md",
     "mean of |dx| + |dy| (forward differences) of F on 0..255, mean over R, G, B"),
]

METRICS: dict[str, MetricInfo] = {
    n: MetricInfo(name=n, symbol=s, direction=d, reference=r, fn=_single(n), description=t)
    for n, s, d, r, t in _INFO
}


def _shape2(x: np.ndarray) -> tuple[int, int]:
    return tuple(np.asarray(x).shape[:2])  # type: ignore[return-value]


def _rgb255(img: np.ndarray) -> np.ndarray | None:
    """The fused image's colour channels on 0..255 (float64), or None for gray input."""
    x = np.asarray(img)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        return None
    x = x[..., :3]
    if x.dtype == np.uint8:
        return x.astype(np.float64)
    y = x.astype(np.float64) / 257.0 if x.dtype == np.uint16 else np.clip(x.astype(np.float64), 0.0, 1.0) * 255.0
    r = np.floor(y + 0.5)
    # 8-bit data (float k/255 or uint16 k*257) -> exact integers, as in to_gray255.
    return r if np.all(np.abs(y - r) < 1e-3) else y


def evaluate_gray255(
    a: np.ndarray,
    b: np.ndarray,
    fused: np.ndarray,
    *,
    metrics: Iterable[str] | None = None,
    qy_mode: str = "stable",
    fused_rgb255: np.ndarray | None = None,
) -> dict[str, float]:
    """Evaluate on already prepared gray float64 0..255 arrays (what the toolbox receives).

    Args:
        a, b, fused: float64 H x W on 0..255, same shape.
        metrics: Subset of :data:`METRIC_NAMES` (default all, in that order).
        qy_mode: ``"stable"`` (default) or ``"faithful"``.
        fused_rgb255: Colour fused image on 0..255 (H x W x 3) for no-reference candidates that
            use colour; None for gray.

    Returns:
        Dict name -> float (NaN where undefined).
    """
    names = _check_names(metrics)
    if qy_mode not in QY_MODES:
        raise MfifError(f"qy_mode: expected one of {QY_MODES}, got {qy_mode!r}")
    if not (a.ndim == 2 and a.shape == b.shape == fused.shape):
        raise MfifError(f"evaluate_gray255: expected three 2-D arrays of one shape, got {a.shape}, {b.shape}, {fused.shape}")
    t = Triple(a, b, fused)
    out: dict[str, float] = {}
    pool = future = None
    if "QCB" in names and a.size >= _THREAD_MIN_PIXELS and t.norm is not None:
        # The FFT-heavy Chen-Blum contrast maps run in a worker thread (pocketfft releases the
        # GIL) while the other metrics are computed here.
        pool = ThreadPoolExecutor(max_workers=1)
        future = pool.submit(contrast_maps, t.norm)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for n in [m for m in names if m != "QCB"] + (["QCB"] if "QCB" in names else []):
                if n == "QCB" and future is not None:
                    t.__dict__["contrast"] = future.result()
                if n == "QY":
                    v = t.qy(mode=qy_mode)
                elif n in noref.CHOSEN:
                    v = noref.CANDIDATES[n][noref.CHOSEN[n]](fused, fused_rgb255)
                else:
                    v = getattr(t, n.lower())()
                v = float(v)
                if not np.isfinite(v) and not (n == "QY" and qy_mode == "faithful"):
                    v = float("nan")
                out[n] = v
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    return {n: out[n] for n in names}


def _check_names(metrics: Iterable[str] | None) -> list[str]:
    if metrics is None:
        return list(METRIC_NAMES)
    if isinstance(metrics, str):
        metrics = [metrics]
    names = [str(m).upper() for m in metrics]
    bad = [m for m in names if m not in METRICS]
    if bad:
        raise MfifError(f"metrics: unknown metric(s) {', '.join(bad)}; choose from {' '.join(METRIC_NAMES)}")
    return names


def evaluate(
    a: np.ndarray,
    b: np.ndarray,
    fused: np.ndarray,
    *,
    metrics: Iterable[str] | None = None,
    qy_mode: str = "stable",
) -> dict[str, float]:
    """Score a fused image against its two sources with the paper's twelve metrics.

    Inputs are converted once to the toolbox's gray 0..255 scale (MATLAB ``rgb2gray`` with
    half-away rounding for integer and 8-bit-valued float data; see
    :func:`mfif.metrics._prep.to_gray255`) and intermediate results are shared across metrics.

    Args:
        a: First source, H x W or H x W x 3, uint8, uint16 or float in [0, 1].
        b: Second source, same size as ``a``.
        fused: Fused image, same size.
        metrics: Names to compute (subset of :data:`METRIC_NAMES`); default all twelve.
        qy_mode: ``"stable"`` (default; cancellation-free in flat windows) or ``"faithful"``
            (the toolbox's behaviour: NaN when a 7x7 window is flat in both sources).

    Returns:
        Dict ``name -> float`` in :data:`METRIC_NAMES` order. Undefined values (e.g. constant
        images) are NaN, with a warning.

    Raises:
        MfifError: sizes differ, unsupported array type/shape, unknown metric or qy_mode.
    """
    names = _check_names(metrics)
    if qy_mode not in QY_MODES:
        raise MfifError(f"qy_mode: expected one of {QY_MODES}, got {qy_mode!r}")
    s0 = _shape2(a)
    for nm, x in (("b", b), ("fused", fused)):
        if _shape2(x) != s0:
            raise MfifError(f"{nm}: size {_shape2(x)} differs from a {s0}")
    ga, gb, gf = (to_gray255(x, name=nm) for x, nm in ((a, "a"), (b, "b"), (fused, "fused")))
    const = [nm for nm, g in (("a", ga), ("b", gb), ("fused", gf)) if float(g.max()) == float(g.min())]
    if const:
        warnings.warn(f"metrics: constant image(s) {', '.join(const)}; undefined metrics are NaN", stacklevel=2)
    out = evaluate_gray255(ga, gb, gf, metrics=names, qy_mode=qy_mode, fused_rgb255=_rgb255(fused))
    if not const:
        nans = [k for k, v in out.items() if np.isnan(v)]
        if nans:
            warnings.warn(f"metrics: {', '.join(nans)} undefined for these images (NaN)", stacklevel=2)
    return out
