"""Known-truth evaluation on held-out synthetic α-matte pairs.

Each pair is made from an all-in-focus image ``I`` and a binary mask ``M`` (1 = foreground = sharp in
A) with :func:`mfif.data.synthesis.alpha_matte_pair`, so the ideal fused image is ``I`` itself and the
ideal decision map is ``M``. Sources of ``(I, M)``:

* a pack's ``"split": "val"`` items (:class:`mfif.data.Pack`, e.g. ``packs/mf-voc``), never seen in
  training;
* without a pack, scikit-image's built-in images with seeded synthetic masks (smooth random blobs),
  centre-cropped and resized to ``size``.

Scores per (pair, method):

* ``psnr``: PSNR (dB, data range 1) of the fused image against ``I`` over the whole image;
* ``psnr_band``: the same within the boundary band, the pixels whose Euclidean distance to the other
  region of ``M`` is ≤ ``band`` (default 8 px; distance 1 = a pixel touching the boundary, so the band
  is ~2·band pixels wide) — where focus-map errors and the α-matte's defocus spread show;
* ``ssim`` (optional): SSIM (scikit-image, data range 1);
* ``iou``: IoU of the method's decision map (> 0.5) with ``M``; NaN when the method has no map.

Two references run in the same evaluation: ``truth-mask`` (the hard pick ``A·M + B·(1−M)`` with the
true mask: what a perfect decision map gives) and ``laplacian-argmax`` (a naive focus-measure baseline).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from mfif.errors import MfifError
from mfif.metrics.reference import boundary_band, iou, psnr

__all__ = [
    "SyntheticPair",
    "TRUTH_MASK",
    "REFERENCES",
    "BUILTIN_IMAGES",
    "builtin_pairs",
    "pack_pairs",
    "evaluate_synthetic",
    "summarize",
    "summary_markdown",
]

TRUTH_MASK = "truth-mask"
REFERENCES = (TRUTH_MASK, "laplacian-argmax")
BUILTIN_IMAGES = (
    "astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field",
    "camera", "coins", "brick", "grass", "gravel", "moon",
)
FIELDS = ["setting", "pair", "method", "psnr", "psnr_band", "ssim", "iou", "seconds", "band_pixels"]


@dataclass
class SyntheticPair:
    """A synthetic pair with its truth.

    Attributes:
        pair_id: Name (``astronaut``, or the pack item id).
        a, b: Sources (H x W x 3 float32 in [0, 1]); A sharp where ``mask`` is 1.
        truth: The all-in-focus image.
        mask: H x W float32 {0, 1}, 1 = A in focus.
        sigma: Defocus σ used.
    """

    pair_id: str
    a: np.ndarray
    b: np.ndarray
    truth: np.ndarray
    mask: np.ndarray
    sigma: float


def _square_resize(img: np.ndarray, size: int | None) -> np.ndarray:
    from skimage.transform import resize

    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    img = img[y : y + s, x : x + s]
    if size is not None and size != s:
        img = resize(img, (size, size) + img.shape[2:], anti_aliasing=True, order=1, preserve_range=True)
    return np.clip(img, 0, 1).astype(np.float32)


def _blob_mask(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth random blob mask covering 30–70 % of the image (largest component kept)."""
    h, w = shape
    for _ in range(20):
        noise = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma=max(h, w) / 8.0)
        thr = np.quantile(noise, rng.uniform(0.3, 0.7))
        m = noise > thr
        lab, n = ndimage.label(m)
        if n:
            sizes = ndimage.sum(m, lab, range(1, n + 1))
            m = lab == (1 + int(np.argmax(sizes)))
            m = ndimage.binary_fill_holes(m)
        frac = float(m.mean())
        if 0.2 <= frac <= 0.8:
            return m.astype(np.float32)
    yy, xx = np.mgrid[:h, :w]  # fallback: an ellipse
    return (((yy - h / 2) / (h / 3)) ** 2 + ((xx - w / 2) / (w / 4)) ** 2 <= 1).astype(np.float32)


def _sigma_for(sigma: float | tuple[float, float], rng: np.random.Generator) -> float:
    if isinstance(sigma, (tuple, list)):
        return float(rng.uniform(sigma[0], sigma[1]))
    return float(sigma)


def builtin_pairs(
    *, n: int = 6, size: int | None = 128, sigma: float | tuple[float, float] = 2.0, seed: int = 0,
    names: Sequence[str] | None = None,
) -> list[SyntheticPair]:
    """Pairs from scikit-image's built-in images with seeded blob masks.

    Args:
        n: Number of pairs (at most ``len(names)``).
        size: Side of the square crop after resizing (None = native short side).
        sigma: Defocus σ, or a ``(low, high)`` range drawn per pair.
        seed: Seed of masks and σ.
        names: ``skimage.data`` function names (default :data:`BUILTIN_IMAGES`).

    Returns:
        The pairs (RGB; gray images are replicated to three channels).
    """
    from skimage import data

    from mfif.data.synthesis import alpha_matte_pair
    from mfif.io import to_rgb

    out = []
    for i, name in enumerate(list(names or BUILTIN_IMAGES)[:n]):
        rng = np.random.default_rng([seed, i])
        img = np.asarray(getattr(data, name)())
        img = img[..., :3] if img.ndim == 3 else img
        truth = to_rgb(_square_resize(img.astype(np.float32) / 255.0, size))
        mask = _blob_mask(truth.shape[:2], rng)
        s = _sigma_for(sigma, rng)
        a, b = alpha_matte_pair(truth, mask, sigma=s)
        out.append(SyntheticPair(name, a, b, truth, mask, s))
    return out


def pack_pairs(
    pack: str | Path, *, split: str = "val", limit: int | None = None, sigma: float | tuple[float, float] | None = None,
    seed: int = 0, max_side: int | None = None,
) -> list[SyntheticPair]:
    """Pairs from a pack's held-out items.

    Args:
        pack: Pack folder (``manifest.json``).
        split: Which split (``val`` = never trained on).
        limit: At most this many items (in manifest order).
        sigma: Defocus σ, or a ``(low, high)`` range drawn per item (seeded by ``seed`` and index);
            None = the item's own ``sigma`` field when the manifest has one, else 2.0.
        seed: Seed of σ.
        max_side: Downscale items whose long side exceeds this (None = keep).

    Returns:
        The pairs.

    Raises:
        MfifError: not a pack, or no item in ``split``.
    """
    from mfif.data import Pack
    from mfif.data.synthesis import alpha_matte_pair

    pk = Pack(pack)
    idx = pk.indices(split)
    if not idx:
        raise MfifError(f"--pack {pack}: no items with split {split!r}")
    out = []
    for j, i in enumerate(idx[:limit] if limit else idx):
        img = pk.load_image(i)
        mask = pk.load_mask(i)
        if max_side and max(img.shape[:2]) > max_side:
            from skimage.transform import resize

            f = max_side / max(img.shape[:2])
            hw = (max(1, round(img.shape[0] * f)), max(1, round(img.shape[1] * f)))
            img = np.clip(resize(img, hw + img.shape[2:], anti_aliasing=True, order=1), 0, 1).astype(np.float32)
            mask = (resize(mask, hw, order=0, anti_aliasing=False) > 0.5).astype(np.float32)
        item_sigma = pk.items[i].get("sigma")
        s = _sigma_for(sigma if sigma is not None else (item_sigma if item_sigma is not None else 2.0),
                       np.random.default_rng([seed, j]))
        a, b = alpha_matte_pair(img, mask, sigma=s)
        out.append(SyntheticPair(str(pk.items[i].get("id", i)), a, b, img, mask, s))
    return out


def _score(p: SyntheticPair, fused: np.ndarray, decision: np.ndarray | None, band: float, with_ssim: bool) -> dict:
    f = np.asarray(fused, np.float32)
    if f.ndim == 2 and p.truth.ndim == 3:
        f = np.repeat(f[..., None], 3, axis=2)
    bmask = boundary_band(p.mask, band)
    row = {"psnr": psnr(f, p.truth), "psnr_band": psnr(f, p.truth, bmask), "band_pixels": int(bmask.sum())}
    if with_ssim:
        from skimage.metrics import structural_similarity

        row["ssim"] = float(structural_similarity(p.truth, f, data_range=1.0, channel_axis=-1 if f.ndim == 3 else None))
    else:
        row["ssim"] = math.nan
    row["iou"] = iou(decision, p.mask) if decision is not None else math.nan
    return row


def evaluate_synthetic(
    pairs: Sequence[SyntheticPair],
    methods: Sequence[str],
    *,
    band: float = 8,
    ssim: bool = False,
    references: bool = True,
    device: str = "auto",
    weights: dict[str, str] | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    setting: str = "",
    done: dict[tuple[str, str], dict] | None = None,
    progress: bool = False,
) -> list[dict]:
    """Fuse every pair with every method and score against the truth.

    Args:
        pairs: From :func:`builtin_pairs` or :func:`pack_pairs`.
        methods: Registry names (the references are added when ``references``).
        band: Boundary band half-width (px).
        ssim: Also compute SSIM.
        references: Add :data:`REFERENCES` (``truth-mask`` and, if registered, ``laplacian-argmax``).
        device, weights, options: Passed to learned methods / all methods (per-method dicts).
        setting: A string identifying the pair set (recorded in each row).
        done: Rows already computed, keyed ``(pair, method)``: reused, not recomputed (resume).
        progress: Show a tqdm bar.

    Returns:
        One row per (pair, method): ``setting pair method psnr psnr_band ssim iou seconds band_pixels``.
    """
    from mfif.api import fuse
    from mfif.registry import get_method, list_methods

    names = list(methods)
    if references:
        known = {m.name for m in list_methods()}
        names = [r for r in REFERENCES if r == TRUTH_MASK or r in known] + [m for m in names if m not in REFERENCES]
    for m in names:
        if m != TRUTH_MASK:
            get_method(m)
    done = done or {}
    rows = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pairs) * len(names), desc="synthetic", leave=False)
    for p in pairs:
        for m in names:
            if (p.pair_id, m) in done:
                rows.append(done[(p.pair_id, m)])
            else:
                t0 = time.perf_counter()
                if m == TRUTH_MASK:
                    mm = p.mask[..., None] if p.a.ndim == 3 else p.mask
                    fused, dec = p.a * mm + p.b * (1 - mm), p.mask
                else:
                    opts = dict((options or {}).get(m, {}))
                    if get_method(m).accepts("device"):
                        opts.setdefault("device", device)
                        if weights and m in weights:
                            opts["weights"] = weights[m]
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        res = fuse([p.a, p.b], method=m, **opts)
                    fused, dec = res.fused, res.decision_map
                secs = time.perf_counter() - t0
                rows.append({"setting": setting, "pair": p.pair_id, "method": m, "seconds": secs,
                             **_score(p, fused, dec, band, ssim)})
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    return rows


def summarize(rows: Sequence[dict]) -> dict[str, dict[str, float]]:
    """Mean of each score per method (``inf`` PSNRs are capped at 100 dB for the mean)."""
    out: dict[str, dict[str, float]] = {}
    for m in dict.fromkeys(str(r["method"]) for r in rows):
        rs = [r for r in rows if r["method"] == m]
        out[m] = {}
        for k in ("psnr", "psnr_band", "ssim", "iou", "seconds"):
            v = np.array([float(r[k]) for r in rs], dtype=float)
            v = np.minimum(v, 100.0)
            v = v[np.isfinite(v)]
            out[m][k] = float(v.mean()) if v.size else math.nan
        out[m]["pairs"] = float(len(rs))
    return out


def summary_markdown(summary: dict[str, dict[str, float]], *, band: float = 8) -> str:
    """Markdown table of :func:`summarize` (rows sorted by band PSNR, best first)."""
    head = f"| Method | PSNR (dB) ↑ | PSNR ≤{band:g} px of boundary (dB) ↑ | SSIM ↑ | map IoU ↑ | s/pair | pairs |\n"
    head += "|:--|--:|--:|--:|--:|--:|--:|\n"

    def f(v: float, d: int = 2) -> str:
        return "–" if not math.isfinite(v) else f"{v:.{d}f}"

    order = sorted(summary, key=lambda m: -summary[m]["psnr_band"] if math.isfinite(summary[m]["psnr_band"]) else math.inf)
    body = "".join(
        f"| {m} | {f(s['psnr'])} | {f(s['psnr_band'])} | {f(s['ssim'], 4)} | {f(s['iou'], 4)} | {f(s['seconds'], 3)} | {int(s['pairs'])} |\n"
        for m, s in ((m, summary[m]) for m in order)
    )
    return head + body
