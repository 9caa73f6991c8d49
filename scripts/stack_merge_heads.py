"""Combine a stack model's fusion path and another's depth head, both trained on the same frozen branch.

    python scripts/stack_merge_heads.py FUSION.safetensors DEPTH.safetensors -o OUT.safetensors

FUSION: a ``freeze_branch`` run (its branch and fusion decoder are kept); DEPTH: a ``freeze_fusion``
depth-head run from the same starting weights (its depth decoder is kept). The branches must be
identical (checked). See :func:`mfif.training.stack_trainer.merge_depth_head`.
"""

from __future__ import annotations

import argparse
import sys

from mfif.errors import MfifError
from mfif.training.stack_trainer import merge_depth_head


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fusion")
    ap.add_argument("depth")
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args(argv)
    if args.out in (args.fusion, args.depth):
        print(f"error: -o {args.out}: is an input", file=sys.stderr)
        return 2
    try:
        path = merge_depth_head(args.fusion, args.depth, args.out)
    except MfifError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
