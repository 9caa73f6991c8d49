"""Average rank over the twelve metrics among a chosen set of methods, from a bench's scores.csv.

Usage:
    python scripts/rank_subset.py bench-out/paper/scores.csv lytro mfif-gan-lite,dsift,quadtree,...

The bench report ranks every listed method together (published outputs included), and an average rank
depends on the field. This recomputes it for a subset, the same way as the report (means over the pairs
all chosen methods have, ``mfif.bench.tables.mean_scores`` and ``rank_methods``):
given the report's full field it reproduces the report's numbers. Our outputs are read as lossless
(``png`` rows), published ones as delivered.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mfif.bench.runner import read_csv
from mfif.bench.tables import mean_scores, metric_directions, rank_methods
from mfif.metrics import METRIC_NAMES


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    path, dataset, methods = Path(argv[0]), argv[1], argv[2].split(",")
    if not path.is_file():
        print(f"rank_subset: {path}: no such scores file", file=sys.stderr)
        return 2
    rows = [r for r in read_csv(path) if r["dataset"] == dataset and r["format"] in ("png", "as-delivered")
            and r["group"] == "main" and r["method"] in methods]
    missing = sorted(set(methods) - {r["method"] for r in rows})
    if missing:
        print(f"rank_subset: no scores for {', '.join(missing)} on {dataset}", file=sys.stderr)
        return 2
    metrics = list(METRIC_NAMES)
    means, pairs = mean_scores(rows, metrics)
    _, avg = rank_methods(means, metric_directions(metrics))
    print(f"{dataset}: {len(pairs)} pairs, {len(methods)} methods")
    for m in sorted(avg, key=avg.get):
        print(f"{m:28s} {avg[m]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
