#!/usr/bin/env bash
# Issue 6: the one GPU training run, prepared on CPU. Run on the lent device machine from the repo root:
#   run(command="bash scripts/gpu_train.sh", carry=["packs/mf-voc"], timeout_s=600)
# packs/mf-voc (≈32 MB) is built here with:
#   mfif data recover-masks ../shared/data/train/mf-voc scratch/data/rec-mfvoc
#   mfif data pack scratch/data/rec-mfvoc packs/mf-voc
# PyTorch, numpy, scipy, scikit-image, safetensors, pyyaml, tqdm, tifffile, OpenCV are preinstalled there
# (device KINDS.md); the training path imports nothing else, so PYTHONPATH=src suffices.
# Results come back under $OUT: the fp16 generator shards (≤ 15 MiB each), log.csv, config, summary.
set -euo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-runs/gpu}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -m mfif train --config configs/gpu9min.yaml --pack packs/mf-voc --out "$OUT/run" 2>&1 | tail -n 40
mkdir -p "$OUT/weights"
cp "$OUT"/run/best/*.safetensors "$OUT/weights/"
cp "$OUT/run/log.csv" "$OUT/run/config.yaml" "$OUT/"
rm -rf "$OUT/run"   # checkpoints stay on the device (too large to send back)
ls -la "$OUT" "$OUT/weights"
