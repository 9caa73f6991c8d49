#!/usr/bin/env python
"""Run the paper's benchmark (Table 1, Table 2, Fig. 4-7) on the shared data in one command.

Usage::

    python scripts/bench_paper.py --shared ../shared --out runs/bench-paper [--docs runs/bench-report.md]
        [--methods mfif-gan,gff,...] [--limit 2] [--device cuda] [extra mfif bench options after --]

It is a thin wrapper over ``mfif bench``: datasets lytro, mffw and grayscale from
``SHARED/data/inputs``, published outputs auto-discovered under ``SHARED/data/reference``. The shared
data are read in place, never copied. Resumable: rerun the same command to continue.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_METHODS = ("mfif-gan,mfif-gan-lite,mfif-gan-lite-tta,gff,quadtree,dsift,lp,dwt,sf,sml,eol,laplacian-argmax,csr,mwgf,nsct,bf")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--methods", default=None, help=f"default: those of {DEFAULT_METHODS} that are registered and usable")
    ap.add_argument("--datasets", default="lytro,mffw,grayscale")
    ap.add_argument("--docs", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--device", default="auto")
    args, extra = ap.parse_known_args(argv)
    extra = [e for e in extra if e != "--"]
    from mfif.cli.main import main as mfif_main
    from mfif.fusion.methods import has_weights
    from mfif.registry import list_methods

    shared = Path(args.shared)
    if args.methods:
        methods = args.methods
    else:
        reg = {m.name: m for m in list_methods()}
        usable = [m for m in DEFAULT_METHODS.split(",")
                  if m in reg and (not reg[m].needs_weights or has_weights(m))]
        methods = ",".join(usable)
    cmd = ["bench", "--out", args.out, "--methods", methods, "--device", args.device,
           "--reference-root", str(shared / "data" / "reference")]
    for ds in args.datasets.split(","):
        cmd += ["--dataset", f"{ds}={shared / 'data' / 'inputs' / ds}"]
    if args.docs:
        cmd += ["--docs", args.docs]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    sys.argv = ["mfif", *cmd, *extra]  # recorded in results.md as the command line
    print("mfif " + " ".join(cmd + extra), file=sys.stderr)
    return mfif_main(cmd + extra)


if __name__ == "__main__":
    sys.exit(main())
