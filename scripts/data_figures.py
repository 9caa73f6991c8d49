"""Figures of docs/data.md (scikit-image built-ins only; nothing from ../shared goes into the repo).

* docs/figures/data_alpha_fringe.png — α-matte pairs: authors' composition vs the paper's literal
  eqs. 10–11 (dark fringe), with a profile across the boundary.
* docs/figures/data_recovery.png — mask recovery on JPEG-q75 conventional triplets built from known
  masks: truth, A, B, true mask, recovered mask, error map (IoU and ambiguity in the titles).

Usage: python scripts/data_figures.py [--out docs/figures]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_recovery_eval import NAMES, load, run_case, seg_mask, shape_mask  # noqa: E402

from mfif.metrics.reference import iou  # noqa: E402
from mfif.data.synthesis import alpha_matte_pair  # noqa: E402


def fringe_figure(out: Path, sigma: float = 3.0) -> None:
    from scipy.ndimage import binary_fill_holes

    img = load("coffee")
    m = binary_fill_holes(seg_mask(img) > 0).astype(np.float32)  # the cup as the near object
    a, b = alpha_matte_pair(img, m, sigma=sigma)
    la, lb = alpha_matte_pair(img, m, sigma=sigma, literal=True)
    fig, ax = plt.subplots(2, 4, figsize=(13, 6.6))
    panels = [(img, "all-in-focus I"), (m, "mask M (1 = near)"), (a, "A, authors' form"), (b, "B, authors' form"),
              (None, ""), (None, ""), (la, "A, literal eq. 10"), (lb, "B, literal eq. 11")]
    from scipy.ndimage import distance_transform_edt

    row = int(np.unravel_index(np.argmax(distance_transform_edt(m)), m.shape)[0])  # deepest inside M
    for k, (x, title) in enumerate(panels):
        axk = ax.flat[k]
        axk.axis("off")
        if x is None:
            continue
        axk.imshow(np.clip(x, 0, 1), cmap="gray" if x.ndim == 2 else None, vmin=0, vmax=1)
        axk.set_title(title, fontsize=10)
        if k in (2, 3, 6, 7):
            axk.axhline(row, color="y", lw=0.6)
    gs = ax[1, 0].get_gridspec()
    for axk in ax[1, :2]:
        axk.remove()
    pa = fig.add_subplot(gs[1, :2])
    y = lambda x: x[row].mean(axis=1)  # noqa: E731
    cols = np.arange(img.shape[1])
    pa.plot(cols, y(img), "k-", lw=1, label="I")
    pa.plot(cols, y(b), "g-", lw=1.2, label="B authors")
    pa.plot(cols, y(lb), "r-", lw=1, label="B literal")
    pa.plot(cols, y(la), "m--", lw=1, label="A literal")
    pa.fill_between(cols, 0, 1, where=m[row] > 0.5, color="0.9", label="M = 1")
    pa.set_xlim(0, img.shape[1] - 1)
    pa.set_ylim(0, 1)
    pa.set_title(f"row {row} (yellow line), mean of RGB, sigma = {sigma}", fontsize=10)
    pa.legend(fontsize=8, ncol=5, loc="lower left")
    fr_lit = float(np.mean(np.minimum(lb - b, 0)[np.abs(lb - b) > 1e-3])) if np.any(np.abs(lb - b) > 1e-3) else 0.0
    fig.suptitle(f"alpha-matte synthesis: the literal equations darken a band around the boundary "
                 f"(mean change there {fr_lit * 255:.1f} levels); the authors' form does not", fontsize=11)
    fig.tight_layout()
    _save_small(fig, out / "data_alpha_fringe.png", 64)
    plt.close(fig)


def recovery_figure(out: Path) -> None:
    cases = [("chelsea", "shape"), ("grass", "seg"), ("astronaut", "shape"), ("rocket", "shape")]
    fig, ax = plt.subplots(len(cases), 6, figsize=(13, 2.35 * len(cases)))
    for r, (name, kind) in enumerate(cases):
        img = load(name)
        k = NAMES.index(name)
        m = shape_mask(img.shape[:2], k) if kind == "shape" else seg_mask(img)
        res = run_case(img, m, 2.0)
        rec = res["result"]
        err = np.zeros(m.shape + (3,), np.float32)
        pm, tm = rec.mask > 0.5, m > 0.5
        err[pm & ~tm] = (1, 0, 0)
        err[~pm & tm] = (0, 0.4, 1)
        seeds = np.zeros(m.shape + (3,), np.float32) + 0.5
        seeds[rec.seeds == 1] = 1
        seeds[rec.seeds == -1] = 0
        panels = [(res["g"], f"{name} (JPEG q75)"), (res["a"], "A"), (res["b"], "B"), (m, f"true mask ({kind})"),
                  (seeds, f"evidence seeds ({rec.confident:.0%})"),
                  (err, f"errors: IoU {iou(rec.mask, m):.3f}, amb {rec.ambiguity:.3f}")]
        for c, (x, title) in enumerate(panels):
            ax[r, c].imshow(np.clip(x, 0, 1), cmap="gray" if x.ndim == 2 else None, vmin=0, vmax=1)
            ax[r, c].set_title(title, fontsize=9)
            ax[r, c].axis("off")
    fig.suptitle("mask recovery on conventional triplets (sigma 2) with known masks; "
                 "seeds: white = A sharp, black = B sharp, gray = undecided; errors: red = false fg, blue = missed fg",
                 fontsize=10)
    fig.tight_layout()
    _save_small(fig, out / "data_recovery.png", 56)
    plt.close(fig)


def _save_small(fig, path: Path, dpi: int) -> None:  # noqa: ANN001
    """Save a figure as a 256-colour PNG (keeps docs/figures small)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    im = Image.open(buf).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    im.save(path, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/figures")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fringe_figure(out)
    recovery_figure(out)
    for p in sorted(out.glob("data_*.png")):
        print(p, p.stat().st_size // 1024, "KiB")


if __name__ == "__main__":
    main()
