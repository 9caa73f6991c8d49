#!/usr/bin/env python
"""Table 1 with some methods' rows re-scored: new scores merged into a stored table, ranks recomputed.

Usage::

    python scripts/table1_merge.py --stored docs/results/tables --scores bench-out/paper-learned/scores.csv
        [--views lytro:as-delivered,mffw:as-delivered,grayscale:lossless-all-pairs] [--out FILE.md]
    python scripts/table1_merge.py --stored docs/results/tables --scores A/scores.csv B/scores.csv --paper

``--scores`` takes several files (e.g. one bench run per method). ``--paper`` keeps only the paper's
Table 1 rows: the eight methods it compares against and MFIF-GAN, run by us (``mfif.bench.PAPER_METHODS``),
beside the published outputs of the same methods (MFIFB's, the survey's, the authors'), and ranks among
those rows; ``--only M1,M2`` keeps any other list of rows.

When only some methods' outputs change (e.g. new weights of the learned methods) the other rows of
Table 1 stay valid, so only the changed methods need to run (``mfif bench --methods ...`` into a new
folder, without published outputs). This reads a stored table (``tables/table1_<dataset>_<view>.csv`` of an
earlier ``mfif bench`` report: per method the means over its pairs), replaces the rows of every method
that has lossless scores in ``--scores`` by their means over all of that dataset's pairs (the stored
table must cover the same number of pairs, else it stops with an error), and ranks again exactly as the
report does (``mfif.bench.tables.rank_methods``). Printed per view: the merged Table 1 (Markdown), and the
average ranks among our methods only (learned + classical, no published outputs) and of each learned
method alone with the classical baselines, as ``scripts/rank_subset.py`` does. Only views over all pairs of a dataset can be merged this way.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stored", required=True, help="folder with table1_<dataset>_<view>.csv")
    ap.add_argument("--scores", required=True, nargs="+", help="scores.csv of the bench run(s) of the changed methods")
    ap.add_argument("--views", default="lytro:as-delivered,mffw:as-delivered,grayscale:lossless-all-pairs")
    ap.add_argument("--out", default=None, help="also write the Markdown here")
    ap.add_argument("--paper", action="store_true", help="only the paper's Table 1 methods, ours and published")
    ap.add_argument("--only", default=None, help="comma-separated rows to keep (ranked among themselves)")
    args = ap.parse_args(argv)

    from mfif.bench import PAPER_METHODS, PAPER_PUBLISHED
    from mfif.bench.runner import read_csv
    from mfif.registry import get_method
    from mfif.errors import MfifError
    from mfif.bench.tables import mean_scores, metric_directions, rank_methods, table1_markdown
    from mfif.metrics import METRIC_NAMES

    metrics = list(METRIC_NAMES)
    dirs = metric_directions(metrics)
    rows = []
    for name in args.scores:
        scores = Path(name)
        if not scores.is_file():
            print(f"table1_merge: {scores}: no such scores file", file=sys.stderr)
            return 2
        rows += read_csv(scores)
    keep = set(PAPER_METHODS) | set(PAPER_PUBLISHED) if args.paper else None
    if args.only:
        keep = (keep or set()) | {m.strip() for m in args.only.split(",") if m.strip()}

    def learned(m: str) -> bool:
        try:
            return get_method(m).needs_weights
        except MfifError:  # a published entry or a method not registered here
            return m.startswith("mfif-gan")
    out = []
    for view in args.views.split(","):
        dataset, kind = view.split(":", 1)
        stored_path = Path(args.stored) / f"table1_{dataset}_{kind}.csv"
        if not stored_path.is_file():
            print(f"table1_merge: {stored_path}: no such table", file=sys.stderr)
            return 2
        with open(stored_path, newline="") as fh:
            stored = list(csv.DictReader(fh))
        n_pairs = {int(float(r["pairs"])) for r in stored}
        new_rows = [r for r in rows if r["dataset"] == dataset and r["format"] == "png" and r["group"] == "main"]
        new_means, pairs = mean_scores(new_rows, metrics)
        if n_pairs != {len(pairs)}:
            print(f"table1_merge: {stored_path} covers {sorted(n_pairs)} pairs, the new scores {len(pairs)}",
                  file=sys.stderr)
            return 2
        means = {r["method"]: {m: float(r[m]) for m in metrics} for r in stored if r["method"] not in new_means}
        means.update(new_means)
        if keep is not None:
            means = {m: v for m, v in means.items() if m in keep}
        _, avg = rank_methods(means, dirs)
        ours = {m: v for m, v in means.items() if ":" not in m}
        _, avg_ours = rank_methods(ours, dirs)
        out.append(f"\n### {dataset} — {kind} ({len(pairs)} pairs; re-scored: {', '.join(sorted(new_means))})\n\n")
        out.append(table1_markdown(means, dirs))
        out.append("\nAverage rank among our methods only (no published outputs): "
                   + ", ".join(f"{m} {avg_ours[m]:.2f}" for m in sorted(avg_ours, key=avg_ours.get)) + "\n")
        classical = {m: v for m, v in ours.items() if not learned(m)}
        alone = []
        for lm in sorted(m for m in ours if learned(m)):
            _, a = rank_methods({**classical, lm: ours[lm]}, dirs)
            order = sorted(a, key=a.get)
            alone.append(f"{lm} {a[lm]:.2f} ({order.index(lm) + 1}.; best classical "
                         f"{next(m for m in order if m != lm)} {a[next(m for m in order if m != lm)]:.2f})")
        out.append("Each learned method alone with the classical baselines: " + "; ".join(alone) + "\n")
    text = "".join(out)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
