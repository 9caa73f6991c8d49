"""``mfif data``: recover masks from multi-focus triplets and build compact training packs.

* ``mfif data recover-masks TRIPLET_DIR OUT_DIR`` — per-image mask + ambiguity score (recovery.json).
* ``mfif data pack SRC [SRC ...] OUT`` — SRC = a recovered folder, a triplet folder (recovered on the
  fly) or a VOC folder (JPEGImages/ + SegmentationClass/); writes the pack atomically.
* ``mfif data verify PACK`` — re-check every file of a pack against its sha256.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mfif.errors import MfifError


def _recover(args: argparse.Namespace) -> int:
    from mfif.data.triplets import recover_dir

    t0 = time.perf_counter()
    doc = recover_dir(args.triplet_dir, args.out_dir, jobs=args.jobs, limit=args.limit, progress=not args.quiet)
    dt = time.perf_counter() - t0
    amb = sorted(it["ambiguity"] for it in doc["items"])
    med = amb[len(amb) // 2] if amb else float("nan")
    print(f"recovered {len(doc['items'])} masks, skipped {len(doc['skipped'])} in {dt:.1f} s "
          f"(median ambiguity {med:.3f}) -> {Path(args.out_dir) / 'recovery.json'}")
    for s in doc["skipped"]:
        print(f"  skipped {s['id']}: {s['reason']}", file=sys.stderr)
    return 0


def _pack(args: argparse.Namespace) -> int:
    from mfif.data.pack import write_pack
    from mfif.data.triplets import pack_sources

    sources, skipped, infos = [], [], []
    for src in args.sources:
        s, k, info = pack_sources(src, jobs=args.jobs, progress=not args.quiet)
        sources += s
        skipped += k
        infos.append(info)
    t0 = time.perf_counter()
    man = write_pack(
        sources, args.out, val_count=args.val_count, val_seed=args.val_seed, max_ambiguity=args.max_ambiguity,
        overwrite=args.overwrite, progress=not args.quiet, total=len(sources), skipped=skipped,
        info={"sources": infos},
    )
    dt = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    c = man["counts"]
    print(f"pack {args.out}: {c['items']} items ({c['train']} train, {c['val']} val), {c['dropped']} dropped "
          f"(ambiguity > {args.max_ambiguity}), {c['skipped']} skipped, {size / 1e6:.1f} MB, {dt:.1f} s")
    for s in man["skipped"]:
        print(f"  skipped {s['id']}: {s['reason']}", file=sys.stderr)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from mfif.data.pack import Pack

    pack = Pack(args.pack)
    problems = pack.verify()
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{args.pack}: {len(pack)} items, {len(problems)} problems")
    return 1 if problems else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="recover masks from triplets, build training packs")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    r = sub.add_parser("recover-masks", help="recover focus masks from (A, B, all-in-focus) triplets")
    r.add_argument("triplet_dir", help="folder with groundtruth/, sourceA/, sourceB/")
    r.add_argument("out_dir", help="output folder (masks/ and recovery.json)")
    r.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    r.add_argument("--limit", type=int, default=None, help="only the first N triplets")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_recover)
    k = sub.add_parser("pack", help="write a compact training pack (images + masks + manifest)")
    k.add_argument("sources", nargs="+", help="recovered, triplet or VOC folders")
    k.add_argument("out", help="pack folder to create")
    k.add_argument("--max-ambiguity", type=float, default=None, help="drop items with a larger ambiguity score")
    k.add_argument("--val-count", type=int, default=64, help="items in the val split (default 64)")
    k.add_argument("--val-seed", type=int, default=0, help="seed of the val rule (default 0)")
    k.add_argument("--jobs", type=int, default=1, help="worker processes for on-the-fly recovery")
    k.add_argument("--overwrite", action="store_true", help="replace an existing pack")
    k.add_argument("--quiet", action="store_true", help="no progress bar")
    k.set_defaults(func=_pack)
    v = sub.add_parser("verify", help="check a pack's files against their checksums")
    v.add_argument("pack")
    v.set_defaults(func=_verify)

    def _help(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=_help)
    # sub-parsers override func when an action is given
    for q in (r, k, v):
        assert q.get_default("func") is not None
