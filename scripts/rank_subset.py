"""Average rank over the twelve metrics among a chosen set of methods, from a bench's scores.csv.

Usage:
    python scripts/rank_subset.py bench-out/paper/scores.csv lytro mfif-gan-lite,dsift,quadtree,...

The bench report ranks every listed method together (published outputs included), and an average rank
depends on the field. This recomputes it for a subset, the same way as the report (means over the pairs
all chosen methods have, one rank per metric with ties sharing the better rank, the metrics' directions):
given the report's full field it reproduces the report's numbers. Our outputs are read as lossless
(``png`` rows), published ones as delivered.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict

import numpy as np

from mfif.bench.report import metric_directions
from mfif.metrics import METRIC_NAMES


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    path, dataset, methods = argv[0], argv[1], argv[2].split(",")
    rows = [r for r in csv.DictReader(open(path, newline="")) if r["dataset"] == dataset
            and r["format"] in ("png", "as-delivered") and r["group"] == "main" and r["method"] in methods]
    by: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        by[r["method"]][r["pair"]] = r
    missing = [m for m in methods if m not in by]
    if missing:
        print(f"rank_subset: no scores for {', '.join(missing)} on {dataset}", file=sys.stderr)
        return 2
    common = set.intersection(*(set(v) for v in by.values()))
    dirs = metric_directions(list(METRIC_NAMES))
    means = {m: {k: float(np.mean([float(by[m][p][k]) for p in common])) for k in METRIC_NAMES} for m in methods}
    ranks: dict[str, list[int]] = defaultdict(list)
    for k in METRIC_NAMES:
        d = dirs[k]

        def badness(m: str, k: str = k, d: str = d) -> float:
            v = means[m][k]
            return -v if d == "higher" else v if d == "lower" else abs(v)

        for m in methods:
            ranks[m].append(1 + sum(badness(o) < badness(m) for o in methods))
    print(f"{dataset}: {len(common)} pairs, {len(methods)} methods")
    for m in sorted(methods, key=lambda m: np.mean(ranks[m])):
        print(f"{m:28s} {np.mean(ranks[m]):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
