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

#: The methods of the paper's Table 1/2 (its eight comparisons and MFIF-GAN), as registry names.
PAPER_METHODS: tuple[str, ...] = ("cnn", "mmf-net", "mwgf", "quadtree", "dsift", "csr", "nsct", "fusegan", "mfif-gan")

#: The published outputs of the same methods, as bench rows (MFIFB's JPEGs, the authors' MFIF-GAN).
PAPER_PUBLISHED: tuple[str, ...] = ("mfifb:CNN", "mfifb:MWGF", "mfifb:QB", "mfifb:DSIFT", "mfifb:CSR", "mfifb:NSCT_SR",
                                    "official:MFIF-GAN")

from mfif.bench.pairs import Dataset, Pair, Published, discover_reference, find_pairs
from mfif.bench.runner import BenchConfig, run_bench
from mfif.bench.tables import rank_methods, table1_markdown

__all__ = [
    "PAPER_METHODS",
    "PAPER_PUBLISHED",
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
