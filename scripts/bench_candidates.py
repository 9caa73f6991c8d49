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
An empty PATH (``NAME=``) keeps the shipped weights. ``--candidate-options NAME=JSON`` gives the
candidate ``NAME`` default options of the lite method, e.g. an inference setting of the shipped weights::

    python scripts/bench_candidates.py --candidate s1.4= --candidate-options 's1.4={"scales": [1.4]}' -- \
        --out bench-out/Z --methods mfif-gan-lite,s1.4,quadtree --dataset lytro=../shared/data/inputs/lytro

Everything after ``--`` goes to ``mfif bench`` (or, with ``--known-truth``, to
``scripts/known_truth.py``, where each candidate is also a variant of that name) unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def register(name: str, path: str, options: dict[str, Any] | None = None) -> None:
    """Register ``name`` = the lite method with ``weights=path`` (empty: the shipped weights) and
    ``options`` by default (options given to a call override them)."""
    from mfif.errors import MfifError
    from mfif.fusion import methods as lite_methods
    from mfif.options import split_options
    from mfif.registry import FusionResult, check_options, get_method, register_method

    base = get_method("mfif-gan-lite")
    defaults = dict(options or {})
    if path:
        weights = str(Path(path).resolve())
        if not Path(weights).exists():
            raise SystemExit(f"bench_candidates: error: {path}: no such weights file or folder")
        defaults.setdefault("weights", weights)
    try:
        check_options(base, defaults)
        split_options(defaults)  # the declared checks of the values
    except MfifError as e:  # an option the lite method does not take, or a bad value
        raise SystemExit(f"bench_candidates: error: --candidate-options {name}: {e}") from None
    what = f"the weights {path}" if path else "the shipped weights"
    if options:
        what += f", options {options}"

    @register_method(name, description=f"mfif-gan-lite with {what}", max_inputs=base.max_inputs,
                     needs_weights=True, citation="this project", options=base.options)
    def _fn(images: Sequence[np.ndarray], **opts: Any) -> FusionResult:
        return lite_methods._fuse_learned("mfif-gan-lite", images, **{**defaults, **opts})


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in argv:
        k = argv.index("--")
        argv, rest = argv[:k], argv[k + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--candidate", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--candidate-options", action="append", default=[], metavar="NAME=JSON",
                    help="default options of candidate NAME, a JSON object")
    ap.add_argument("--known-truth", action="store_true", help="run scripts/known_truth.py instead of mfif bench")
    ap.add_argument("--threads", type=int, default=None,
                    help="OpenCV and torch threads (default: theirs); with OMP_NUM_THREADS for BLAS")
    args = ap.parse_args(argv)
    if args.threads is not None:
        import cv2

        import torch

        cv2.setNumThreads(args.threads)
        torch.set_num_threads(args.threads)
    cand_opts: dict[str, dict[str, Any]] = {}
    for c in args.candidate_options:
        name, _, text = c.partition("=")
        try:
            value = json.loads(text)
        except ValueError as e:
            ap.error(f"--candidate-options {c}: not JSON ({e})")
        if not isinstance(value, dict):
            ap.error(f"--candidate-options {c}: expected NAME={{...}}, a JSON object")
        cand_opts[name] = value
    names = []
    for c in args.candidate:
        if "=" not in c:
            ap.error(f"--candidate {c}: expected NAME=PATH")
        name, path = c.split("=", 1)
        register(name, path, cand_opts.pop(name, None))
        names.append(name)
    if cand_opts:
        ap.error(f"--candidate-options for names that are no --candidate: {', '.join(sorted(cand_opts))}")
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
