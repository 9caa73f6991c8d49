"""``mfif metrics``: score fused images with the paper's twelve metrics.

Single triple::

    mfif metrics A.png B.png FUSED.png [--json]

Folder mode (many triples, CSV out, progress bar)::

    mfif metrics --pairs SOURCES_DIR --fused-dir FUSED_DIR [--tag CNN] -o scores.csv

Pairs in ``SOURCES_DIR`` are ``NAME_A/NAME_B`` (or ``NAME1/NAME2``) files; each is matched with the
fused image in ``FUSED_DIR`` whose stem is ``NAME``, ``NAME_<tag>``, ``NAME_fused`` or the MFIF-GAN
authors' ``<Dataset>_fusion_<i>`` (see :mod:`mfif.bench.pairs`). Pairs without a fused image are
reported and skipped.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import warnings
from pathlib import Path

from mfif.errors import MfifError
from mfif.io import write_atomic


def register(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001
    p = subparsers.add_parser(
        "metrics",
        help="score fused images (MI TE NCIE QG QM SF QY QCB LIF AG MSD GLD)",
        description="Score a fused image against its two sources with the MFIF-GAN paper's twelve metrics "
        "(MATLAB toolbox parity), or a whole folder of pairs (--pairs/--fused-dir) into a CSV.",
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="source A, source B, fused image")
    p.add_argument("--json", action="store_true", help="print the scores as a JSON object")
    p.add_argument("--metrics", default=None, help="comma-separated subset, e.g. MI,QG,QY (default: all twelve)")
    p.add_argument("--qy-mode", default="stable", choices=["stable", "faithful"],
                   help="QY: numerically stable (default) or toolbox-faithful (NaN on flat windows)")
    p.add_argument("--pairs", default=None, metavar="DIR", help="folder mode: folder of source pairs")
    p.add_argument("--fused-dir", default=None, metavar="DIR", help="folder mode: folder of fused images")
    p.add_argument("--tag", default=None, help="folder mode: also match fused stems NAME_<TAG> (e.g. CNN)")
    p.add_argument("-o", "--output", default=None, metavar="CSV", help="folder mode: CSV file to write (default stdout)")
    p.add_argument("--no-progress", action="store_true", help="folder mode: hide the progress bar")
    p.set_defaults(func=run)


def _parse_metrics(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [t.strip().upper() for t in text.split(",") if t.strip()]
    if not names:
        raise MfifError("--metrics: empty list")
    return names


def _read(path: str | Path):  # noqa: ANN202
    from mfif.io import read_image

    return read_image(path)[0]


def _fmt(v: float) -> str:
    return "nan" if math.isnan(v) else f"{v:.12g}"


def run(args: argparse.Namespace) -> int:
    from mfif.metrics import evaluate

    names = _parse_metrics(args.metrics)
    folder = args.pairs is not None or args.fused_dir is not None
    if folder:
        if args.images:
            raise MfifError("give either IMAGE A B F or --pairs/--fused-dir, not both")
        if args.pairs is None or args.fused_dir is None:
            raise MfifError("folder mode needs both --pairs DIR and --fused-dir DIR")
        return _run_folder(args, names)
    if len(args.images) != 3:
        raise MfifError(f"expected 3 images (source A, source B, fused), got {len(args.images)}")
    a, b, f = (_read(p) for p in args.images)
    if a.shape[:2] != f.shape[:2] or b.shape[:2] != f.shape[:2]:
        raise MfifError(
            f"{args.images[2]}: size {f.shape[1]}x{f.shape[0]} differs from the sources "
            f"({a.shape[1]}x{a.shape[0]}, {b.shape[1]}x{b.shape[0]})"
        )
    scores = evaluate(a, b, f, metrics=names, qy_mode=args.qy_mode)
    if args.json:
        print(json.dumps({k: (None if math.isnan(v) else v) for k, v in scores.items()}))
    else:
        from mfif.metrics import METRICS

        for k, v in scores.items():
            arrow = {"higher": "higher is better", "lower": "lower is better", "zero": "closer to 0 is better"}
            print(f"{k:5s} {_fmt(v):>16s}   ({arrow[METRICS[k].direction]})")
    return 0


def _atomic_write_text(path: Path, text: str) -> None:
    path = path.resolve()
    if not path.parent.is_dir():
        raise MfifError(f"--output: folder {path.parent} does not exist")
    write_atomic(path, text)


def _run_folder(args: argparse.Namespace, names: list[str] | None) -> int:
    from tqdm import tqdm

    from mfif.bench.pairs import Published, find_pairs
    from mfif.metrics import METRIC_NAMES, evaluate

    fused_dir = Path(args.fused_dir)
    if not fused_dir.is_dir():
        raise MfifError(f"--fused-dir: folder {fused_dir} not found")
    pairs = find_pairs(args.pairs)
    pub = Published(name=args.tag or "fused", root=fused_dir, tag=args.tag or "fused")
    jobs, missing = [], []
    for pr in pairs:
        f = pub.find(pr)
        (jobs if f is not None else missing).append((pr, f))
    if not jobs:
        raise MfifError(f"--fused-dir: no fused image in {fused_dir} matches a pair of {args.pairs}")
    for pr, _ in missing:
        print(f"mfif: note: no fused image for pair {pr.pair_id}; skipped", file=sys.stderr)
    cols = names or list(METRIC_NAMES)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["pair", "source_a", "source_b", "fused", *cols])
    failed = 0
    for pr, f in tqdm(jobs, desc="metrics", unit="pair", disable=args.no_progress, file=sys.stderr):
        try:
            a, b, fi = _read(pr.a), _read(pr.b), _read(f)
            if a.shape[:2] != fi.shape[:2] or b.shape[:2] != fi.shape[:2]:
                raise MfifError(f"{f}: size {fi.shape[1]}x{fi.shape[0]} differs from its sources {pr.a}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = evaluate(a, b, fi, metrics=names, qy_mode=args.qy_mode)
        except MfifError as exc:
            failed += 1
            print(f"mfif: note: {pr.pair_id}: {exc}; skipped", file=sys.stderr)
            continue
        w.writerow([pr.pair_id, pr.a.name, pr.b.name, f.name, *(_fmt(scores[c]) for c in cols)])
    if args.output:
        _atomic_write_text(Path(args.output), buf.getvalue())
        print(f"wrote {len(jobs) - failed} rows to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(buf.getvalue())
    return 0 if failed == 0 else 1
