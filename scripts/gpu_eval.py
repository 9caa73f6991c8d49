"""After the issue-6 GPU run: the evaluation steps that need the trained model, run on the device.

Sub-commands (each writes into OUT; run from the repository root with PYTHONPATH=src):

``maps WEIGHTS INPUTS OUT``
    Fuse every pair of the dataset folders under INPUTS (e.g. lytro, mffw, grayscale: the paper's test
    sets, carried as a pack) with ``mfif-gan`` through the project's bench runner (fp32, the
    leaderboard setting), so OUT holds ``outputs/<set>/mfif-gan/<pair>.png`` and ``_map.png``,
    ``runs.csv`` (GPU seconds per pair) and ``scores.csv`` (the twelve metrics). Only the decision
    maps and the CSVs need to travel back: ``scripts/import_gpu_maps.py`` recomposes the fused images
    from them bit for bit (F = A·M + B·(1−M)).

``teacher WEIGHTS PACK OUT``
    Teacher maps for distillation (issue 10): every ``train`` item of PACK, one α-matte pair each with a
    seeded σ in [0.8, 2.0], the generator's soft focus map (sigmoid output) stored as round(p·32) in
    uint8 in ``OUT/teacher-K.npz`` (512 items each: ``maps`` n×H×W, ``sigma`` n, ``index`` n = pack
    item, ``quant`` = 32).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def cmd_maps(weights: str, inputs: str, out: str, device: str) -> None:
    from mfif.bench.pairs import parse_dataset_arg
    from mfif.bench.runner import BenchConfig, run_bench

    roots = sorted(p for p in Path(inputs).iterdir() if p.is_dir())
    datasets = [parse_dataset_arg(f"{p.name}={p}") for p in roots]
    cfg = BenchConfig(datasets=datasets, methods=["mfif-gan"], out=Path(out), format_match=False,
                      device=device, weights={"mfif-gan": weights}, progress=False)
    t0 = time.time()
    res = run_bench(cfg)
    print(f"maps: {sum(len(d.pairs) for d in datasets)} pairs in {time.time() - t0:.1f} s; "
          f"failed {len(res['failed'])}", flush=True)
    for f in res["failed"]:
        print("  failed:", f, flush=True)


def cmd_teacher(weights: str, pack: str, out: str, device: str, batch: int = 32, seed: int = 2026,
                limit: int | None = None) -> None:
    import torch

    from mfif.data.pack import Pack
    from mfif.data.synthesis import synthesize_batch_torch
    from mfif.models.weights import load_generator
    from mfif.training.distill import save_teacher

    dev = torch.device(device)
    g = load_generator(weights, device=dev).eval()
    p = Pack(pack)
    idx = p.indices("train")[:limit]
    rng = np.random.default_rng(seed)
    sig = rng.uniform(0.8, 2.0, size=len(idx)).astype(np.float32)
    maps = []
    t0 = time.time()
    with torch.no_grad():
        for s in range(0, len(idx), batch):
            ii = idx[s:s + batch]
            img = torch.from_numpy(np.stack([p.load_image(i) for i in ii])).permute(0, 3, 1, 2).to(dev)
            msk = torch.from_numpy(np.stack([p.load_mask(i) for i in ii]))[:, None].to(dev)
            a, b = synthesize_batch_torch(img, msk, sig[s:s + batch].tolist())
            maps.append(g(a, b).float()[:, 0].cpu().numpy())
    files = save_teacher(out, np.concatenate(maps), sig, np.asarray(idx), seed=seed)
    size = sum(f.stat().st_size for f in files)
    print(f"teacher: {len(idx)} maps in {time.time() - t0:.1f} s, {size / 2**20:.1f} MiB in all", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["maps", "teacher"])
    ap.add_argument("weights")
    ap.add_argument("source", help="maps: folder of dataset folders; teacher: pack folder")
    ap.add_argument("out")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--limit", type=int, default=None, help="teacher: first N train items only (dry runs)")
    a = ap.parse_args(argv)
    if a.command == "maps":
        cmd_maps(a.weights, a.source, a.out, a.device)
    else:
        cmd_teacher(a.weights, a.source, a.out, a.device, limit=a.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
