"""Seconds per 520×520 pair for the MFIF-GAN generator (network alone and end to end).

Usage:
    python benchmarks/infer_speed.py [--device cpu|cuda] [--config paper|lite|lite-gray|lite-refine]
        [--repeats N] [--amp] [--channels-last] [--compile] [--threads N] [--tta N] [--edge-soft] [--optimize]

End to end = numpy sources → tensor → network → map → threshold + small-region removal → fused image.
Random weights (speed does not depend on the values). Prints one Markdown row per setting, with the
CPU/GPU model, so results can be pasted into docs/speed.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mfif.bench.runner import cpu_name
from mfif.fusion.inference import predict_focus_map_tensor
from mfif.fusion.pair import fuse_pair
from mfif.models import Generator, GeneratorConfig

CONFIGS = {
    "paper": GeneratorConfig(),
    "lite": GeneratorConfig(width=8, n_blocks=3),  # shipped: six colour-channel branch calls
    "lite-gray": GeneratorConfig(width=8, n_blocks=3, input_mode="gray"),  # v5 (not shipped): two luma branches
    "lite-refine": GeneratorConfig(width=8, n_blocks=3, refine_width=16, refine_layers=4),
}



def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--config", default="paper", choices=sorted(CONFIGS))
    ap.add_argument("--size", type=int, default=520)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--amp", action="store_true")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--tta", type=int, default=1, choices=[1, 2, 4, 16], help="test-time augmentation copies")
    ap.add_argument("--edge-soft", action="store_true",
                    help="end to end with edge snapping (guide = A) and soft composition (fuse_pair edge_guide='a', soft=True)")
    ap.add_argument("--optimize", action="store_true",
                    help="also time the shipped inference path (BN folded + channels-last) in the same run")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    torch.manual_seed(0)
    model = Generator(CONFIGS[args.config]).eval().to(dev)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    variants = [("eager", model)]
    if args.optimize:
        from mfif.models.optimize import optimize_for_inference

        variants.append(("bn-folded+channels_last", optimize_for_inference(model)))
    print("| config | device | variant | options | network s/pair (median) | end-to-end s/pair (median) |")
    print("|---|---|---|---|---|---|")
    for vname, m in variants:
        net = torch.compile(m) if args.compile else m
        run_one(args, dev, vname, net)


def run_one(args, dev, vname, net) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    a = rng.random((args.size, args.size, 3), dtype=np.float32)
    b = rng.random((args.size, args.size, 3), dtype=np.float32)
    ta = torch.from_numpy(a).permute(2, 0, 1)[None].to(dev)
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].to(dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    # warm-up
    predict_focus_map_tensor(net, ta, tb, amp=args.amp, channels_last=None, tta=args.tta)
    sync()
    t_net = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        predict_focus_map_tensor(net, ta, tb, amp=args.amp, channels_last=None, tta=args.tta)
        sync()
        t_net.append(time.perf_counter() - t0)
    extra = {"edge_guide": "a", "soft": True} if args.edge_soft else {}
    t_e2e = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fuse_pair(net, a, b, device=dev, amp=args.amp, tta=args.tta, **extra)
        sync()
        t_e2e.append(time.perf_counter() - t0)
    hw = torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_name()
    opts = "+".join(o for o, on in (("bf16", args.amp), ("channels_last", args.channels_last), ("compile", args.compile),
                                     (f"tta{args.tta}", args.tta > 1), ("edge-soft", args.edge_soft)) if on) or "fp32"
    print(f"| {args.config} | {hw} | {vname} | {opts} | {np.median(t_net):.4f} | {np.median(t_e2e):.4f} |")


if __name__ == "__main__":
    main()
