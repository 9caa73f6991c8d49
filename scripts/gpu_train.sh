#!/usr/bin/env bash
# Issue 6: the one GPU call, prepared on CPU. On the lent device machine, from the repo root:
#   run(command="OUT=$OUT bash scripts/gpu_train.sh",
#       carry=["packs/mf-voc", "packs/test-inputs", "packs/whl"], timeout_s=600)
# Carried (git-ignored):
#   packs/mf-voc       the training pack (≈32 MB): mfif data recover-masks ../shared/data/train/mf-voc D
#                      && mfif data pack D packs/mf-voc
#   packs/test-inputs  a copy of ../shared/data/inputs/{lytro,mffw,grayscale} (≈11 MB, evaluation only)
#   packs/whl          PyWavelets for Python 3.12 (the device image lacks it; the registry imports it)
# Env: TRAIN_MIN (training wall clock, default 6.0), WARM_MIN (L1-only warm-up, default 3.0).
# Back under $OUT (≤ 8 files): weights/*.safetensors (fp16 shards ≤ 15 MiB), report.tar.gz (log.csv,
# train log, config, metrics, decision maps + runs/scores of the test sets, synthetic tables, GPU
# speed), teacher-K.npz (distillation targets for issue 10).
set -uo pipefail
OUT=${OUT:-runs/gpu}
TRAIN_MIN=${TRAIN_MIN:-6.0}
WARM_MIN=${WARM_MIN:-3.0}
DEV=${DEV:-cuda}   # the CPU dry run sets DEV=cpu, SKIP_SPEED=1 and TRAIN_SET="--set width=4 ..."
R=runs/gpu-work
rm -rf "$R"; mkdir -p "$OUT" "$R"
if ls packs/whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site packs/whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
T0=$(date +%s)
stamp() { echo "[t+$(( $(date +%s) - T0 ))s] $*"; }
# the report is re-packed after every stage, so a call cut by its time limit still returns what it did
pack_report() { tar czf "$OUT/.report.tgz" -C "$R" report && mv "$OUT/.report.tgz" "$OUT/report.tar.gz"; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -c "import torch, numpy, pywt; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numpy', numpy.__version__)"

stamp "train ($TRAIN_MIN min, warm-up $WARM_MIN min)"
python3 -m mfif train --config gpu9min --pack packs/mf-voc --out "$R/run" \
  --set "max_minutes=$TRAIN_MIN" --set "warmup_minutes=$WARM_MIN" --set progress=false ${TRAIN_SET:-} \
  > "$R/train.log" 2>&1
echo "train exit $?"
grep -v "^step " "$R/train.log" | tail -n 25
grep "^step " "$R/train.log" | awk 'NR % 10 == 0' | tail -n 12
W="$R/run/best"
mkdir -p "$OUT/weights"
cp "$W"/*.safetensors "$OUT/weights/" 2>/dev/null || { echo "no best weights"; W="$R/run/final"; }
mkdir -p "$R/report"
cp "$R/run/log.csv" "$R/run/config.yaml" "$R/train.log" "$R/report/" 2>/dev/null
cp "$R/run/best/metrics.json" "$R/report/best-metrics.json" 2>/dev/null
cp "$R/run/final/metrics.json" "$R/report/final-metrics.json" 2>/dev/null
cp "$R/run/val_reference.json" "$R/report/" 2>/dev/null
pack_report

stamp "test-set maps"
timeout 90 python3 scripts/gpu_eval.py maps "$W" packs/test-inputs "$R/bench" --device "$DEV" 2>&1 | tail -n 5
(cd "$R/bench" && tar czf ../report/bench-maps.tar.gz runs.csv scores.csv $(find outputs -name '*_map.png') 2>/dev/null)
pack_report

stamp "synthetic known truth"
for s in own s1 builtin; do
  case $s in own) A="--pack packs/mf-voc";; s1) A="--pack packs/mf-voc --sigma 1.0";; builtin) A="";; esac
  timeout 45 python3 -m mfif bench synthetic $A --methods mfif-gan --weights "mfif-gan=$W" --device "$DEV" \
    --out "$R/report/syn-$s" --no-progress 2>&1 | tail -n 3
done
pack_report

stamp "speed"
[ -n "${SKIP_SPEED:-}" ] || for flags in "--config paper --optimize" "--config paper --optimize --amp" "--config lite --optimize --amp"; do
  timeout 40 python3 benchmarks/infer_speed.py --device cuda $flags --repeats 50 2>&1 | tail -n 6
done > "$R/report/infer_speed.txt"
cat "$R/report/infer_speed.txt" 2>/dev/null
pack_report

stamp "teacher maps"
timeout 90 python3 scripts/gpu_eval.py teacher "$W" packs/mf-voc "$OUT" --device "$DEV" 2>&1 | tail -n 3

stamp done
ls -la "$OUT" "$OUT/weights"
for s in own s1 builtin; do echo "== syn $s"; sed -n '/^| Method/,$p' "$R/report/syn-$s/synthetic.md" 2>/dev/null | head -8; done
