"""Figures: Fig. 6 (focus-map diffusion/contraction), Fig. 7 (ablation lines), Fig. 4/5-style visuals.

All plots are matplotlib PNGs (Agg backend, no display needed).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

__all__ = [
    "grow_shrink_scores",
    "normalise_curves",
    "plot_fig6",
    "plot_fig7",
    "plot_visual",
    "plot_map_diff",
    "auto_crop",
]


def _plt():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def grow_shrink_scores(
    a: np.ndarray, b: np.ndarray, decision: np.ndarray, ks: Sequence[int], metrics: Sequence[str]
) -> dict[int, dict[str, float]]:
    """Scores of ``F_k = A·M_k + B·(1−M_k)`` with ``M_k = grow_shrink(decision, k)`` (paper Fig. 6).

    Args:
        a, b: Sources, H x W or H x W x 3 float32 in [0, 1].
        decision: Final decision map H x W (1 = A).
        ks: Pixel offsets; k > 0 grows A's region (diffusion), k < 0 shrinks it (contraction).
        metrics: Metric names.

    Returns:
        ``k -> metric -> value``.
    """
    import warnings

    from mfif.metrics import evaluate
    from mfif.postprocess import grow_shrink

    out: dict[int, dict[str, float]] = {}
    for k in ks:
        m = grow_shrink(np.asarray(decision) > 0.5, int(k)).astype(np.float32)
        mm = m[..., None] if a.ndim == 3 else m
        f = a * mm + b * (1.0 - mm)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[int(k)] = evaluate(a, b, f, metrics=list(metrics))
    return out


def normalise_curves(
    curves: Mapping[object, Mapping[str, float]],
    metrics: Sequence[str],
    *,
    directions: Mapping[str, str] | None = None,
) -> dict[object, dict[str, float]]:
    """Min–max normalise each metric over the curve's points to [0, 1] (constant metric -> 0.5).

    Args:
        curves: ``x -> metric -> value`` (x = k for Fig. 6, variant for Fig. 7).
        metrics: Which metrics.
        directions: If given, values are first turned into "goodness" (``lower`` negated, ``zero``
            -> −|v|) so that 1 = best; else the raw values are normalised (1 = largest).

    Returns:
        Same layout with values in [0, 1] (NaN stays NaN).
    """
    out: dict[object, dict[str, float]] = {x: {} for x in curves}
    for m in metrics:
        vals = np.array([curves[x].get(m, math.nan) for x in curves], dtype=float)
        d = (directions or {}).get(m)
        if d == "lower":
            vals = -vals
        elif d == "zero":
            vals = -np.abs(vals)
        fin = vals[np.isfinite(vals)]
        lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (math.nan, math.nan)
        for x, v in zip(curves, vals):
            if not math.isfinite(v):
                out[x][m] = math.nan
            elif hi > lo:
                out[x][m] = (v - lo) / (hi - lo)
            else:
                out[x][m] = 0.5
    return out


def plot_fig6(
    ours: Mapping[int, Mapping[str, float]],
    metrics: Sequence[str],
    path: str | Path,
    *,
    published: Mapping[int, Mapping[str, float]] | None = None,
    title: str = "",
    ours_label: str = "ours (grow/shrink of our decision maps)",
) -> Path:
    """Plot normalised metric curves against k (one panel ours, one the published outputs).

    Args:
        ours: ``k -> metric -> mean value`` from :func:`grow_shrink_scores` averaged over pairs.
        metrics: Metrics to draw.
        path: PNG path.
        published: Same for the authors' diffused/contracted outputs, or None.
        title: Figure title.
        ours_label: Title of the first panel.

    Returns:
        The written path.
    """
    plt = _plt()
    panels = [(ours_label, ours)]
    if published:
        panels.append(("published (authors' diffused/contracted outputs)", published))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
    cmap = plt.get_cmap("tab20")
    for ax, (name, curves) in zip(axes[0], panels):
        ks = sorted(curves)
        norm = normalise_curves({k: curves[k] for k in ks}, metrics)
        for i, m in enumerate(metrics):
            ax.plot(ks, [norm[k][m] for k in ks], marker="o", ms=3, lw=1.2, color=cmap(i % 20), label=m)
        ax.axvline(0, color="0.6", lw=0.8, ls="--")
        ax.set_xlabel("k (pixels; < 0 contracted, > 0 diffused)")
        ax.set_ylabel("metric, min–max normalised")
        ax.set_title(name, fontsize=10)
        ax.set_ylim(-0.05, 1.05)
    axes[0][-1].legend(fontsize=7, ncol=2, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_fig7(
    variants: Mapping[str, Mapping[str, float]], metrics: Sequence[str], path: str | Path, *, title: str = ""
) -> Path:
    """One line per variant across the metrics (each metric min–max normalised over the variants,
    direction-aware: 1 = the best variant on that metric, 0 = the worst).

    Args:
        variants: ``variant -> metric -> mean value``.
        metrics: x-axis order.
        path: PNG path.
        title: Figure title.

    Returns:
        The written path.
    """
    from mfif.bench.tables import metric_directions

    plt = _plt()
    norm = normalise_curves(variants, metrics, directions=metric_directions(metrics))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    x = np.arange(len(metrics))
    for name in variants:
        ax.plot(x, [norm[name][m] for m in metrics], marker="o", ms=4, lw=1.3, label=name)
    ax.set_xticks(x, list(metrics))
    ax.set_ylabel("score, min–max over variants (1 = best)")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path, plt)


def auto_crop(images: Sequence[np.ndarray], *, frac: float = 0.25) -> tuple[int, int, int, int]:
    """The square window (side ``frac`` of the short side) where the images disagree most.

    Args:
        images: Same-size images (H x W or H x W x 3).
        frac: Window side as a fraction of min(H, W).

    Returns:
        ``(y, x, h, w)``.
    """
    from scipy.ndimage import uniform_filter

    stack = np.stack([np.asarray(i, np.float32).reshape(i.shape[0], i.shape[1], -1).mean(-1) for i in images])
    var = stack.var(axis=0) if len(images) > 1 else np.abs(np.gradient(stack[0])[0])
    h, w = var.shape
    s = max(8, int(round(min(h, w) * frac)))
    score = uniform_filter(var.astype(np.float64), size=s, mode="constant")
    half = s // 2
    inner = score[half : h - (s - half) + 1, half : w - (s - half) + 1]
    if inner.size == 0:
        return 0, 0, h, w
    yy, xx = np.unravel_index(int(np.argmax(inner)), inner.shape)
    return int(yy), int(xx), s, s


def plot_visual(
    images: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    crop: tuple[int, int, int, int] | None = None,
    title: str = "",
) -> Path:
    """Fig. 5-style panel: each image with a red box, and the boxed detail magnified below it.

    Args:
        images: ``name -> image`` (same size; sources and fused outputs).
        path: PNG path.
        crop: ``(y, x, h, w)`` of the detail; default :func:`auto_crop`.
        title: Figure title.

    Returns:
        The written path.
    """
    plt = _plt()
    from matplotlib.patches import Rectangle

    names = list(images)
    y, x, h, w = crop or auto_crop([images[n] for n in names])
    n = len(names)
    fig, axes = plt.subplots(2, n, figsize=(2.4 * n, 5.0), squeeze=False)
    for j, name in enumerate(names):
        img = np.clip(np.asarray(images[name], np.float32), 0, 1)
        kw = {"cmap": "gray", "vmin": 0, "vmax": 1} if img.ndim == 2 else {}
        axes[0][j].imshow(img, **kw)
        axes[0][j].add_patch(Rectangle((x, y), w, h, fill=False, ec="red", lw=1.2))
        axes[0][j].set_title(name, fontsize=8)
        axes[1][j].imshow(img[y : y + h, x : x + w], interpolation="nearest", **kw)
        for ax in (axes[0][j], axes[1][j]):
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_map_diff(map1: np.ndarray, map2: np.ndarray, names: tuple[str, str], path: str | Path, *, title: str = "") -> Path:
    """Fig. 4-style: two decision maps and their difference (red: only the first says A; blue: only the second).

    Args:
        map1, map2: H x W maps in [0, 1] (1 = A).
        names: Their labels.
        path: PNG path.
        title: Figure title.

    Returns:
        The written path.
    """
    plt = _plt()
    d = np.asarray(map1, np.float32) - np.asarray(map2, np.float32)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    axes[0].imshow(map1, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(names[0], fontsize=9)
    axes[1].imshow(map2, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(names[1], fontsize=9)
    im = axes[2].imshow(d, cmap="bwr", vmin=-1, vmax=1)
    axes[2].set_title(f"{names[0]} − {names[1]} ({100 * float(np.mean(np.abs(d) > 0.5)):.2f}% differ)", fontsize=9)
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path, plt)


def _save(fig, path: str | Path, plt) -> Path:  # noqa: ANN001
    import os
    import tempfile

    from mfif.io import publish

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.stem}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, format="png")
        publish(tmp, p)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p
