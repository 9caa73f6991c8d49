#!/usr/bin/env python
"""``mfif bench`` (or ``scripts/known_truth.py``) with extra lite-model weights registered as methods of
their own, in one run.

Usage::

    python scripts/bench_candidates.py --candidate lite-v8=runs/v8.safetensors \\
        --candidate lite-real=runs/X/best -- --out bench-out/X --methods lite-v8,lite-real,quadtree,... \\
        --dataset lytro=../shared/data/inputs/lytro --no-format-match --no-fig6
    python scripts/bench_candidates.py --candidate lite-v8=... --candidate lite-real=... --known-truth -- \\
        --pack packs/mf-voc --out bench-out/Y --settings own --variants lite-v8,lite-real,laplacian-argmax

Each ``--candidate NAME=PATH`` registers ``NAME`` as ``mfif-gan-lite`` with ``weights=PATH`` (same
inference code, options and post-processing as the shipped method), so old and new weights are fused,
scored and ranked side by side by the same bench run (lossless outputs, cached per method in ``--out``).
Everything after ``--`` goes to ``mfif bench`` (or, with ``--known-truth``, to
``scripts/known_truth.py``, where each candidate is also a variant of that name) unchanged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def register(name: str, path: str) -> None:
    """Register ``name`` = the lite method with ``weights=path`` by default."""
    from mfif.fusion import methods as lite_methods
    from mfif.registry import FusionResult, get_method, register_method

    base = get_method("mfif-gan-lite")
    weights = str(Path(path).resolve())
    if not Path(weights).exists():
        raise SystemExit(f"bench_candidates: error: {path}: no such weights file or folder")

    @register_method(name, description=f"mfif-gan-lite with the weights {path}", max_inputs=base.max_inputs,
                     needs_weights=True, citation="this project", options=base.options)
    def _fn(images: Sequence[np.ndarray], **opts: Any) -> FusionResult:
        opts.setdefault("weights", weights)
        return lite_methods._fuse_learned("mfif-gan-lite", images, **opts)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in argv:
        k = argv.index("--")
        argv, rest = argv[:k], argv[k + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--candidate", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--known-truth", action="store_true", help="run scripts/known_truth.py instead of mfif bench")
    args = ap.parse_args(argv)
    names = []
    for c in args.candidate:
        if "=" not in c:
            ap.error(f"--candidate {c}: expected NAME=PATH")
        name, path = c.split("=", 1)
        register(name, path)
        names.append(name)
    if args.known_truth:
        import importlib.util

        spec = importlib.util.spec_from_file_location("known_truth", Path(__file__).with_name("known_truth.py"))
        kt = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(kt)
        for name in names:
            kt.VARIANTS[name] = (name, {})
        return int(kt.main(rest) or 0)
    from mfif.cli.main import main as mfif_main

    return int(mfif_main(["bench", *rest]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
