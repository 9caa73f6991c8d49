"""Training throughput of the MFIF-GAN trainer: generator-update samples per second.

Usage:
    python benchmarks/train_speed.py [--config fast] [--device cpu|cuda] [--crop 256] [--batch 16]
        [--width 64] [--n-blocks 9] [--n-critic 5] [--gan wgan-gp|lsgan|none] [--iters 20]
        [--warmup 5] [--amp auto|true|false] [--channels-last auto|true|false] [--compile]
        [--threads N] [--set key=value ...]

One iteration = one critic step (and every n_critic-th one a generator step) on the trainer's real
code path (``Trainer.iteration``: on-device pair synthesis, bf16 autocast / channels_last on CUDA,
gradient penalty in fp32). Data loading is excluded: batches of random all-in-focus crops and random
rectangle masks are built in memory. Reported: generator-update samples/s = G updates × batch / time
(the paper's schedule has n_critic = 5 critic steps per G update), and iterations/s.
Prints one Markdown row per run (with the CPU/GPU model) for docs/training.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from mfif.training.config import load_config
from mfif.training.trainer import Trainer


class RandomSource:
    """Pack-like in-memory source: smooth random images with a random rectangle mask."""

    def __init__(self, n: int, size: int, seed: int = 0) -> None:
        from scipy.ndimage import gaussian_filter

        r = np.random.default_rng(seed)
        self.imgs, self.masks = [], []
        for _ in range(n):
            self.imgs.append(gaussian_filter(r.random((size, size, 3)), (0.7, 0.7, 0)).astype(np.float32))
            m = np.zeros((size, size), np.float32)
            y0, x0 = r.integers(0, size // 2, 2)
            m[y0 : y0 + size // 2, x0 : x0 + size // 2] = 1
            self.masks.append(m)

    def __len__(self) -> int:
        return len(self.imgs)

    def load_image(self, i: int) -> np.ndarray:
        return self.imgs[i]

    def load_mask(self, i: int) -> np.ndarray:
        return self.masks[i]

    def indices(self, split: str | None) -> list[int]:
        return list(range(len(self))) if split != "val" else []


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    from mfif.bench.runner import cpu_name

    return cpu_name()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="fast")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--width", type=int)
    ap.add_argument("--n-blocks", type=int)
    ap.add_argument("--n-critic", type=int)
    ap.add_argument("--gan")
    ap.add_argument("--iters", type=int, default=20, help="timed iterations (rounded up to n_critic)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--amp", default="auto")
    ap.add_argument("--channels-last", default="auto")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()

    sets = [f"crop={args.crop}", f"device={args.device}", f"amp={args.amp}", f"channels_last={args.channels_last}",
            "gpu_synthesis=true", "val_count=0", f"threads={args.threads}", f"compile={args.compile}"]
    for key, val in (("batch_size", args.batch), ("width", args.width), ("critic_width", args.width),
                     ("n_blocks", args.n_blocks), ("n_critic", args.n_critic), ("gan", args.gan)):
        if val is not None:
            sets.append(f"{key}={val}")
    cfg = load_config(args.config, sets + args.overrides)
    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(cfg, tmp, source=RandomSource(max(cfg.batch_size, 8), cfg.crop + 16), log=lambda s: None)
        k = 1 if cfg.gan == "none" else cfg.n_critic
        iters = -(-args.iters // k) * k
        warm = -(-args.warmup // k) * k
        batches = []
        for s in range(k):
            items = [tr.train_set[i] for i in tr.plan.items(s)]
            batches.append({key: torch.stack([it[key] for it in items]) for key in items[0]})

        def sync() -> None:
            if tr.device.type == "cuda":
                torch.cuda.synchronize(tr.device)

        for i in range(warm):
            tr.iteration(batches[i % k])
        sync()
        g0 = tr.g_updates
        t = time.perf_counter()
        for i in range(iters):
            tr.iteration(batches[i % k])
        sync()
        dt = time.perf_counter() - t
        g = tr.g_updates - g0
    sps = g * cfg.batch_size / dt
    print("| device | config | width×blocks | crop | batch | gan / n_critic | amp | channels_last | compile "
          "| it/s | G-update samples/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {device_name(tr.device)} | {cfg.name} | {cfg.width}×{cfg.n_blocks} | {cfg.crop} | {cfg.batch_size} "
          f"| {cfg.gan} / {k} | {tr.amp} | {tr.channels_last} | {cfg.compile} | {iters / dt:.3f} | {sps:.2f} |")


if __name__ == "__main__":
    main()
