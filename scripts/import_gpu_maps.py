"""Bring the device's ``mfif-gan`` test-set results into a local bench folder (issue 6).

``scripts/gpu_eval.py maps`` ran the bench runner on the GPU and sent back only the decision maps
(``outputs/<set>/mfif-gan/<pair>_map.png``), ``runs.csv`` (GPU seconds) and ``scores.csv``. This script
recomposes each fused image from its map and the local sources, F = A·M + B·(1−M) with the project's
``compose`` and ``write_image`` (the same calls as the bench runner), writes it where
``scripts/bench_paper.py`` looks for it, adds the GPU run rows to the bench's ``runs.csv``, and checks
that the twelve metrics of the recomposed images equal the device's (so the outputs are the device's
outputs, bit for bit). ``bench_paper.py`` then scores them without fusing again.

Usage:
    python scripts/import_gpu_maps.py MAPS_DIR --inputs ../shared/data/inputs --out bench-out/paper
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("maps", help="folder with outputs/, runs.csv, scores.csv from the device")
    ap.add_argument("--inputs", required=True, help="folder of the dataset folders (lytro, mffw, grayscale)")
    ap.add_argument("--out", required=True, help="bench folder (bench-out/paper)")
    ap.add_argument("--method", default="mfif-gan")
    args = ap.parse_args(argv)

    from mfif.bench.pairs import find_pairs
    from mfif.bench.runner import _score, output_path, read_csv, write_csv
    from mfif.fusion.pair import compose
    from mfif.io import harmonize, read_image, write_image

    src, out = Path(args.maps), Path(args.out)
    device_scores = {(r["dataset"], r["pair"]): r for r in read_csv(src / "scores.csv")}
    worst = 0.0
    n = 0
    for ds_dir in sorted((src / "outputs").iterdir()):
        pairs = {p.pair_id: p for p in find_pairs(Path(args.inputs) / ds_dir.name, dataset=ds_dir.name)}
        for mp in sorted((ds_dir / args.method).glob("*_map.png")):
            pid = mp.name[: -len("_map.png")]
            pair = pairs[pid]
            a, info = read_image(pair.a)
            b, _ = read_image(pair.b)
            if a.shape != b.shape:
                (a, b), _ = harmonize([a, b], [str(pair.a), str(pair.b)])
            m, _ = read_image(mp)
            if m.ndim == 3:
                m = m[..., 0]
            dm = m > 0.5
            fused = compose(a, b, dm)
            png = output_path(out, ds_dir.name, args.method, pid)
            png.parent.mkdir(parents=True, exist_ok=True)
            write_image(png, fused, bit_depth=16 if info.bit_depth == 16 else 8)
            shutil.copyfile(mp, output_path(out, ds_dir.name, args.method, pid, kind="map"))
            f, _ = read_image(png)
            ours = _score(a, b, f, [k for k in device_scores[(ds_dir.name, pid)] if k.isupper()])
            dev = device_scores[(ds_dir.name, pid)]
            for k, v in ours.items():
                d = abs(float(v) - float(dev[k]))
                if np.isfinite(d):
                    worst = max(worst, d / max(1.0, abs(float(v))))
            n += 1
    rows = read_csv(out / "runs.csv") if (out / "runs.csv").is_file() else []
    keep = [r for r in rows if r["method"] != args.method]
    new = [r for r in read_csv(src / "runs.csv") if r["method"] == args.method]
    fields = list(rows[0].keys()) if rows else list(new[0].keys())
    write_csv(out / "runs.csv", keep + new, fields)
    print(f"imported {n} fused images of {args.method}; largest relative metric difference to the device's "
          f"scores: {worst:.2e}; {len(new)} GPU run rows")
    return 0 if worst < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
