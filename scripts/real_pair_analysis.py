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

``--select-gates 0.5,1,2,3:8`` is the selection step of ``mfif-gan-lite-hybrid`` instead: on the sets given
(the selection set only), the default, Quadtree, DSIFT, ``laplacian-energy-15`` and the combination at
each ``GATE[:PROTECT]`` (and with ``--with-conf`` ``conf0.45``: the network where its map is within 0.05
of 0 or 1, the classical decision elsewhere) are scored; it prints the metric means and each candidate's average rank among the four
plus itself (the eight toolbox metrics and all twelve) and writes ``selection.json`` and
``selection.md`` to ``--out``. ``--rank M1,M2,...`` only prints the average ranks of these methods per
set from ``--bench``'s scores (8 toolbox metrics and all 12; the 12-metric ranks are those of
scripts/rank_subset.py).
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
from mfif.fusion.hybrid import classical_decision, hybrid_decision, laplacian_energy_log_ratio
from mfif.fusion.pair import compose
from mfif.io import read_image
from mfif.metrics import METRIC_NAMES, METRICS, evaluate
from mfif.metrics.reference import boundary_band
from mfif.postprocess.regions import remove_small_regions

#: Mean squared Laplacian (15×15, gray levels²) below which a pixel counts as flat in both sources.
FLAT = 4.0
METHODS = ("mfif-gan-lite", "quadtree", "dsift", "mfif-gan-lite-hybrid")
TOOLBOX = ("MI", "TE", "NCIE", "QG", "QM", "SF", "QY", "QCB")


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
    ap.add_argument("--select-gates", default=None,
                    help="comma-separated GATE[:PROTECT] candidates: the hybrid's selection step")
    ap.add_argument("--with-conf", action="store_true", help="selection: also the conf0.45 candidate")
    ap.add_argument("--rank", default=None, metavar="M1,M2,...",
                    help="only print the average ranks of these methods per set from --bench's scores.csv "
                         "(lossless rows, pairs all of them have; the 8 toolbox metrics and all 12)")
    args = ap.parse_args(argv)
    if args.select_gates:
        return select(args)
    if args.rank:
        return rank(args)
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


def rank(args: argparse.Namespace) -> int:
    """Average ranks per set among ``--rank`` methods, from the bench's scores (as scripts/rank_subset.py)."""
    from mfif.bench.tables import mean_scores, metric_directions, rank_methods

    methods = args.rank.split(",")
    if args.bench is None or not (args.bench / "scores.csv").is_file():
        print("real_pair_analysis: --rank needs --bench DIR with a scores.csv", file=sys.stderr)
        return 2
    rows = read_csv(args.bench / "scores.csv")
    for spec in args.datasets:
        ds = spec.partition("=")[0]
        rs = [r for r in rows if r["dataset"] == ds and r["format"] == "png" and r["group"] == "main"
              and r["method"] in methods]
        missing = sorted(set(methods) - {r["method"] for r in rs})
        if missing:
            print(f"real_pair_analysis: no scores for {', '.join(missing)} on {ds}", file=sys.stderr)
            return 2
        lines = []
        for mets in (TOOLBOX, METRIC_NAMES):
            means, pairs = mean_scores(rs, list(mets))
            _, avg = rank_methods(means, metric_directions(mets))
            lines.append(f"{len(mets)} metrics: " + ", ".join(f"{m} {avg[m]:.2f}" for m in sorted(avg, key=avg.get)))
        print(f"{ds} ({len(pairs)} pairs, {len(methods)} methods)\n  " + "\n  ".join(lines))
    return 0


def select(args: argparse.Namespace) -> int:
    """The selection step (module docstring): candidates scored on the given sets, ranks printed."""
    import json

    from mfif.bench.tables import metric_directions, rank_methods

    gates = [(float(g.split(":")[0]), int(g.split(":")[1]) if ":" in g else 0) for g in args.select_gates.split(",")]
    res: dict[str, dict[str, dict[str, float]]] = {}
    for spec in args.datasets:
        ds, _, folder = spec.partition("=")
        if not folder or not Path(folder).is_dir():
            print(f"real_pair_analysis: {spec}: expected NAME=FOLDER of pairs", file=sys.stderr)
            return 2
        pairs = find_pairs(folder, dataset=ds)
        for pr in pairs[: args.limit] if args.limit else pairs:
            a, b = load_pair(pr.a, pr.b)
            mp = maps(a, b, args.bench, args.cache, ds, pr.pair_id)
            fm = mp["fm"]
            lr = laplacian_energy_log_ratio(a, b)
            cls = classical_decision(lr)
            net = fm > 0.5
            cand = {"mfif-gan-lite": mp["mfif-gan-lite"] > 0.5, "quadtree": mp["quadtree"] > 0.5,
                    "dsift": mp["dsift"] > 0.5, "laplacian-energy-15": cls}
            if args.with_conf:
                cand["conf0.45"] = remove_small_regions(np.where(np.abs(fm - 0.5) >= 0.45, net, cls))
            for g, p in gates:
                cand[f"gate{g:g}" + (f"-protect{p}" if p else "")] = hybrid_decision(fm, a, b, gate=g, protect=p) > 0.5
            res[f"{ds}/{pr.pair_id}"] = {k: evaluate(a, b, compose(a, b, v.astype(np.float32))) for k, v in cand.items()}
            print(f"{ds}/{pr.pair_id}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "selection.json").write_text(json.dumps(res, indent=1))
    names = list(next(iter(res.values())))
    base = names[:4]
    out = [f"{len(res)} pairs", "", "| candidate | " + " | ".join(METRIC_NAMES) + " |", "|---|" + "---|" * len(METRIC_NAMES)]
    means = {m: {k: float(np.mean([res[p][m][k] for p in res])) for k in METRIC_NAMES} for m in names}
    out += [f"| {m} | " + " | ".join(f"{means[m][k]:.4f}" for k in METRIC_NAMES) + " |" for m in names]
    out += ["", "Average rank among the default, quadtree, dsift, laplacian-energy-15 and the candidate "
            "(8 toolbox metrics; all 12):", ""]
    for c in names[4:] + [names[0]]:
        field = base + ([c] if c not in base else [])
        line = []
        for mets in (TOOLBOX, METRIC_NAMES):
            _, avg = rank_methods({m: {k: means[m][k] for k in mets} for m in field}, metric_directions(mets))
            line.append(", ".join(f"{m} {avg[m]:.2f}" for m in sorted(avg, key=avg.get)))
        out.append(f"- {c}: {line[0]}; {line[1]}")
    text = "\n".join(out) + "\n"
    (args.out / "selection.md").write_text(text)
    print(text)
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
    from scipy.stats import spearmanr

    feats = ["area", "jpeg_block", "flat", "dis_qt", "dis_qt_band", "dis_qt_small", "wrong_qt", "soft_unsure"]
    out += ["", f"Spearman correlation over all {len(rows)} pairs between a pair's statistic and the default's "
            "advantage over Quadtree on a metric (positive: the default does relatively better where the "
            "statistic is larger):", "", "| statistic | " + " | ".join(TOOLBOX) + " |", "|---|" + "---|" * len(TOOLBOX)]
    for f in feats:
        x = [float(r["h"]) * float(r["w"]) if f == "area" else float(r[f]) for r in rows]
        cells = []
        for k in TOOLBOX:
            sign = -1.0 if getattr(METRICS.get(k), "direction", "higher") == "lower" else 1.0
            if getattr(METRICS.get(k), "direction", "higher") == "zero":
                adv = [abs(float(r[f"quadtree:{k}"])) - abs(float(r[f"mfif-gan-lite:{k}"])) for r in rows]
            else:
                adv = [sign * (float(r[f"mfif-gan-lite:{k}"]) - float(r[f"quadtree:{k}"])) for r in rows]
            rho = spearmanr(x, adv).statistic if len(rows) > 2 else float("nan")
            cells.append(f"{rho:+.2f}")
        out.append(f"| {f} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
