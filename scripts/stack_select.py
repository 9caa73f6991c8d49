"""Choose the composition of ``mfif-stack`` on the stack trainer's validation stacks (never on the bench).

For a weights file: the mean PSNR against the truth of the softmax fusion at several temperatures and
of the hard selection (the frame of the largest score, with and without small-region removal), on
the seeded validation stacks of :func:`mfif.training.stack_trainer.validation_stacks` (noise textures,
seeds from 10,000; ``mfif bench stacks`` uses other seeds). ``--n`` overrides the frame count, to see
that the choice holds for deeper stacks than the 6-frame validation.

    python scripts/stack_select.py runs/stack/best/mfif-stack.safetensors [--n 6,12] [--count 12]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights")
    ap.add_argument("--n", default="6", help="comma-separated frame counts (default: the validation's 6)")
    ap.add_argument("--count", type=int, default=12, help="stacks per frame count (default 12)")
    ap.add_argument("--temperatures", default="1,0.5,0.25,0.1")
    ap.add_argument("--tta", type=int, default=1, help="1, 2 or 4 flips")
    ap.add_argument("--score-sigma", type=float, default=0.0, help="smoothing of the score maps (px)")
    args = ap.parse_args()
    from mfif.fusion.stack import clean_depth_map, select
    from mfif.fusion.stack_native import fuse_stack_native, load_stack_net
    from mfif.metrics.reference import psnr
    from mfif.options import ComposeOptions
    from mfif.training.stack_trainer import StackTrainConfig, validation_stacks

    model = load_stack_net(args.weights)
    temps = [float(t) for t in args.temperatures.split(",")]
    print(f"tta {args.tta}, score sigma {args.score_sigma:g}")
    print("| N | " + " | ".join(f"softmax T = {t:g}" for t in temps) + " | hard | hard + small-region removal |")
    print("|---|" + "---|" * (len(temps) + 2))
    for n in (int(x) for x in args.n.split(",")):
        cfg = dataclasses.replace(StackTrainConfig(), val_n=n, val_count=args.count)
        stacks = validation_stacks(cfg)
        soft = {t: [] for t in temps}
        hard, hard_clean = [], []
        for st in stacks:
            for t in temps:
                r = fuse_stack_native(model, st.frames, device="cpu", temperature=t, tta=args.tta,
                                      score_sigma=args.score_sigma,
                                      compose_options=ComposeOptions(postprocess=False))
                soft[t].append(psnr(r.fused, st.truth))
            hard.append(psnr(select(st.frames, r.depth_map), st.truth))
            hard_clean.append(psnr(select(st.frames, clean_depth_map(r.depth_map, ratio=0.001)), st.truth))
        cells = [f"{np.mean(soft[t]):.2f}" for t in temps] + [f"{np.mean(hard):.2f}", f"{np.mean(hard_clean):.2f}"]
        print(f"| {n} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
