"""The evaluation harness: paper Table 1/2 and Fig. 4–7 reproductions, leaderboard, synthetic truth.

* :mod:`mfif.bench.pairs` — find pairs in dataset folders, match published outputs to them.
* :mod:`mfif.bench.runner` — run/score/time methods, resumable (``scores.csv``, ``runs.csv``).
* :mod:`mfif.bench.formats` — JPEG format matching of our outputs.
* :mod:`mfif.bench.tables` — direction-aware ranking, Markdown tables.
* :mod:`mfif.bench.figures` — Fig. 6, Fig. 7, crops and map differences.
* :mod:`mfif.bench.report` — ``results.md``.
* :mod:`mfif.bench.synthetic` — known-truth α-matte evaluation (PSNR, band PSNR, IoU).

The CLI is ``mfif bench`` / ``mfif bench synthetic`` (docs/bench.md).
"""

from mfif.bench.pairs import Dataset, Pair, Published, discover_reference, find_pairs
from mfif.bench.runner import BenchConfig, run_bench
from mfif.bench.tables import rank_methods, table1_markdown

__all__ = [
    "BenchConfig",
    "Dataset",
    "Pair",
    "Published",
    "discover_reference",
    "find_pairs",
    "rank_methods",
    "run_bench",
    "table1_markdown",
]
