"""Where the lite default's decision maps differ from Quadtree's and DSIFT's on real pairs, and what it costs.

Usage:
    python scripts/real_pair_analysis.py NAME=DATASET_DIR [NAME=DATASET_DIR ...] [--bench DIR] [--out DIR]
        [--cache DIR] [--limit N]

For every pair of a set (found as ``mfif bench`` finds them) it takes the decision maps and the twelve
metric scores of ``mfif-gan-lite``, ``quadtree``, ``dsift`` and ``mfif-gan-lite-hybrid`` from a bench
folder (``--bench``: ``outputs/<set>/<method>/<pair>_map.png`` and ``scores.csv``, lossless rows) or,
for what the bench lacks, fuses through :func:`mfif.fuse` (near-focus source first, maps in the files'
order) and scores here; the network's soft map is computed (cached in ``--cache``). It describes:

* ``size``, ``jpeg_block``: image size and the inputs' 8×8 blockiness (mean absolute gray step across
  columns/rows 8k−1→8k over the mean step elsewhere; 1.0 = no block grid, JPEG inputs > 1);
* ``flat``: fraction of pixels where neither source has texture (both 15×15 mean squared Laplacian
  below :data:`FLAT` gray levels²);
* ``dis_qt`` / ``dis_ds``: fraction of pixels where the default's decision differs from Quadtree's /
  DSIFT's, split (of the Quadtree disagreement) into ``_flat`` (in flat pixels), ``_band`` (textured,
  within 8 px of Quadtree's boundary), ``_small`` (textured, in a default-map component smaller than
  1 % of the image, or in a Quadtree component the default misses), and the rest;
* ``wrong_qt``: of the textured pixels where the default and Quadtree disagree, the fraction where the
  default picks the source with less 7×7 Laplacian energy (the metrics' notion of "wrong");
* ``soft_unsure``: fraction of pixels where the network's map is within 0.1 of 0.5;
* per metric the default's score minus Quadtree's and DSIFT's (sign: positive = the default better).

Writes ``pairs.csv`` (one row per pair) and ``summary.md`` (means per set, and per metric the number of
pairs each method wins against another) to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

import mfif
from mfif.baselines._common import gray255
from mfif.bench.pairs import find_pairs
from mfif.bench.runner import output_path, read_csv
from mfif.filters import local_sum
from mfif.fusion.pair import compose
from mfif.io import read_image
from mfif.metrics import METRIC_NAMES, METRICS, evaluate
from mfif.metrics.reference import boundary_band

#: Mean squared Laplacian (15×15, gray levels²) below which a pixel counts as flat in both sources.
FLAT = 4.0
METHODS = ("mfif-gan-lite", "quadtree", "dsift", "mfif-gan-lite-hybrid")


def load_pair(pa: Path, pb: Path) -> tuple[np.ndarray, np.ndarray]:
    a, _ = read_image(pa)
    b, _ = read_image(pb)
    if a.ndim != b.ndim:
        a, b = (np.repeat(x[..., None], 3, 2) if x.ndim == 2 else x for x in (a, b))
    return a, b


def blockiness(img: np.ndarray) -> float:
    """Mean |step| across the 8-px grid over the mean |step| elsewhere (rows and columns)."""
    g = gray255(img)
    num = den = 0.0
    for d in (np.abs(np.diff(g, axis=1)), np.abs(np.diff(g, axis=0)).T):
        on = (np.arange(d.shape[1]) % 8) == 7
        num += float(d[:, on].mean())
        den += float(d[:, ~on].mean())
    return num / max(den, 1e-9)


def maps(a: np.ndarray, b: np.ndarray, bench: Path | None, cache: Path | None, dataset: str,
         pair: str) -> dict[str, np.ndarray]:
    """Decision maps (float32 H×W, 1 = A) of the four methods and the network's soft map ``fm``."""
    out: dict[str, np.ndarray] = {}
    f = cache / f"{dataset}_{pair}.npz" if cache is not None else None
    if f is not None and f.exists():
        out.update({k: v for k, v in np.load(f).items()})
    for m in METHODS:
        p = output_path(bench, dataset, m, pair, kind="map") if bench is not None else None
        if m not in out and p is not None and p.exists():
            out[m] = (read_image(p)[0] > 0.5).astype(np.float32)
    for m in ("fm", *METHODS):
        if m not in out:
            r = mfif.fuse([a, b], method="mfif-gan-lite" if m == "fm" else m)
            out[m] = (r.focus_map if m == "fm" else r.decision_map).astype(np.float32)
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(f, **out)
    return out


def describe(a: np.ndarray, b: np.ndarray, mp: dict[str, np.ndarray]) -> dict[str, float]:
    """The map statistics of the module docstring for one pair."""
    ga, gb = gray255(a), gray255(b)
    la, lb = ndimage.laplace(ga, mode="reflect") ** 2, ndimage.laplace(gb, mode="reflect") ** 2
    ea, eb = local_sum(la, 15) / 225.0, local_sum(lb, 15) / 225.0
    flat = (ea < FLAT) & (eb < FLAT)
    sharper_a = local_sum(la, 7) > local_sum(lb, 7)
    lite, qt, ds = mp["mfif-gan-lite"] > 0.5, mp["quadtree"] > 0.5, mp["dsift"] > 0.5
    dis = lite != qt
    band = boundary_band(qt.astype(np.float32), 8) & ~flat
    h, w = lite.shape
    small = np.zeros_like(lite)
    for m in (lite, ~lite):
        lab, n = ndimage.label(m)
        if n:
            sizes = np.bincount(lab.ravel())
            sizes[0] = h * w
            small |= sizes[lab] < 0.01 * h * w
    small &= ~flat & ~band
    tex_dis = dis & ~flat
    n = float(h * w)
    return {
        "flat": float(flat.mean()),
        "dis_qt": float(dis.mean()),
        "dis_qt_flat": float((dis & flat).sum() / n),
        "dis_qt_band": float((dis & band).sum() / n),
        "dis_qt_small": float((dis & small).sum() / n),
        "dis_qt_rest": float((dis & ~flat & ~band & ~small).sum() / n),
        "dis_ds": float((lite != ds).mean()),
        "wrong_qt": float(((lite != sharper_a) & tex_dis).sum() / max(tex_dis.sum(), 1)),
        "wrong_lite": float(((lite != sharper_a) & ~flat).sum() / max((~flat).sum(), 1)),
        "wrong_hybrid": float((((mp["mfif-gan-lite-hybrid"] > 0.5) != sharper_a) & ~flat).sum() / max((~flat).sum(), 1)),
        "soft_unsure": float((np.abs(mp["fm"] - 0.5) < 0.1).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", nargs="+", help="NAME=FOLDER of pairs (NAME as in the bench)")
    ap.add_argument("--bench", type=Path, default=None, help="a mfif bench folder with these sets and methods")
    ap.add_argument("--out", type=Path, default=Path("bench-out/real-pairs/analysis"))
    ap.add_argument("--cache", type=Path, default=Path("bench-out/real-pairs/analysis/maps"))
    ap.add_argument("--limit", type=int, default=0, help="at most N pairs per set (0 = all)")
    args = ap.parse_args(argv)
    rows: list[dict[str, object]] = []
    scores: dict[tuple[str, str, str], dict[str, float]] = {}
    if args.bench is not None and (args.bench / "scores.csv").is_file():
        for r in read_csv(args.bench / "scores.csv"):
            if r["format"] == "png" and r["group"] == "main" and all(r.get(k) not in (None, "") for k in METRIC_NAMES):
                scores[(r["dataset"], r["pair"], r["method"])] = {k: float(r[k]) for k in METRIC_NAMES}
    for spec in args.datasets:
        ds, _, folder = spec.partition("=")
        if not folder or not Path(folder).is_dir():
            print(f"real_pair_analysis: {spec}: expected NAME=FOLDER of pairs", file=sys.stderr)
            return 2
        pairs = find_pairs(folder, dataset=ds)
        if args.limit:
            pairs = pairs[: args.limit]
        for pr in pairs:
            name = pr.pair_id
            a, b = load_pair(pr.a, pr.b)
            mp = maps(a, b, args.bench, args.cache, ds, name)
            row: dict[str, object] = {"set": ds, "pair": name, "h": a.shape[0], "w": a.shape[1],
                                      "jpeg_block": round((blockiness(a) + blockiness(b)) / 2, 4)}
            row.update({k: round(v, 5) for k, v in describe(a, b, mp).items()})
            sc = {m: scores.get((ds, name, m)) or evaluate(a, b, compose(a, b, mp[m])) for m in METHODS}
            for m in METHODS:
                for k in METRIC_NAMES:
                    row[f"{m}:{k}"] = sc[m][k]
            rows.append(row)
            print(f"{ds}/{name}: {a.shape[1]}x{a.shape[0]} dis_qt={row['dis_qt']:.3f} "
                  f"wrong_qt={row['wrong_qt']:.2f}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "pairs.csv", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    (args.out / "summary.md").write_text(summary(rows))
    print(summary(rows))
    return 0


def _better(x: float, y: float, metric: str) -> bool:
    d = getattr(METRICS.get(metric), "direction", "higher")
    if d == "lower":
        return x < y
    if d not in ("higher",):  # closer to zero (SF's signed ratio error)
        return abs(x) < abs(y)
    return x > y


def summary(rows: list[dict[str, object]]) -> str:
    """Means per set of the map statistics and, per metric, pairs won by the default and the hybrid."""
    stats = ["h", "w", "jpeg_block", "flat", "dis_qt", "dis_qt_flat", "dis_qt_band", "dis_qt_small", "dis_qt_rest",
             "dis_ds", "wrong_qt", "wrong_lite", "wrong_hybrid", "soft_unsure"]
    out = ["| set | pairs | " + " | ".join(stats) + " |", "|---|---|" + "---|" * len(stats)]
    sets = sorted({str(r["set"]) for r in rows})
    for s in sets:
        rs = [r for r in rows if r["set"] == s]
        out.append(f"| {s} | {len(rs)} | " + " | ".join(f"{np.mean([float(r[k]) for r in rs]):.3f}" for k in stats) + " |")
    out += ["", "Pairs won per metric (default vs Quadtree, default vs DSIFT, hybrid vs Quadtree, hybrid vs default):", "",
            "| set | " + " | ".join(METRIC_NAMES) + " |", "|---|" + "---|" * len(METRIC_NAMES)]
    for s in sets:
        rs = [r for r in rows if r["set"] == s]
        cells = []
        for k in METRIC_NAMES:
            c = [sum(_better(float(r[f"{x}:{k}"]), float(r[f"{y}:{k}"]), k) for r in rs)
                 for x, y in (("mfif-gan-lite", "quadtree"), ("mfif-gan-lite", "dsift"),
                              ("mfif-gan-lite-hybrid", "quadtree"), ("mfif-gan-lite-hybrid", "mfif-gan-lite"))]
            cells.append("/".join(map(str, c)))
        out.append(f"| {s} ({len(rs)}) | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
