#!/usr/bin/env bash
# Regenerate every table and figure of docs/results.md and docs/results/ with the shipped weights.
#
# Usage: scripts/regenerate_results.sh SHARED [STEP ...]
#   SHARED  the read-only material (../shared): data/inputs, data/reference, data/train/mf-voc
#   STEP    any of: pack known-truth lytro mffw-gray ranks copy speed   (default: all, in this order)
#           or the fast path when only the learned methods' outputs changed: pack known-truth learned merge speed
#           (the learned methods on the real pairs, merged into the stored Table 1 means of docs/results/tables)
#           or the paper's learned comparisons (cnn, mmf-net, fusegan; docs/comparisons.md): comparisons paper-time
#
# Environment: PYTHON (default .venv/bin/python), OUT (default bench-out, git-ignored),
#   PACK (default packs/mf-voc; only its 64 held-out val items are used here).
# Every step resumes: `mfif bench` skips fusions whose PNG exists and scores already in scores.csv,
# scripts/known_truth.py reuses its CSV rows, the pack is built once. After a change of the learned
# methods' inference, delete their folders first so they are recomputed, e.g.
#   rm -rf bench-out/paper-*/outputs/*/mfif-gan* bench-out/known-truth
#   (and their rows in bench-out/paper-*/scores.csv and runs.csv), then rerun this script.
# Cost on the 2-core AMD EPYC (idle; the bench's Table 2 and Fig. 6 notes): pack ≈ 16 min, known truth
# ≈ 15 min, Lytro ≈ 70 min (csr alone ≈ 26 min, scoring ≈ 30 min), MFFW + grayscale ≈ 50 min.
set -euo pipefail

SHARED=${1:?usage: scripts/regenerate_results.sh SHARED [STEP ...]}
shift
STEPS=${*:-pack known-truth lytro mffw-gray ranks copy speed}
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-bench-out}
PACK=${PACK:-packs/mf-voc}
cd "$(dirname "$0")/.."

LEARNED=mfif-gan,mfif-gan-lite,mfif-gan-lite-tta2,mfif-gan-lite-tta,mfif-gan-lite-soft,mfif-gan-lite-tta16-soft
CLASSICAL=gff,quadtree,dsift,lp,dwt,sf,sml,eol,laplacian-argmax,mwgf,nsct,bf
CLASSICAL_ALL=$CLASSICAL,csr   # csr (≈ 80 s per pair) on Lytro only, as in the paper's Table 2

run() { echo "+ $*" >&2; "$@"; }

for step in $STEPS; do
  case $step in
    pack)  # the mf-voc pack: 2,599 items, of which 64 held-out 'val' pairs are the known truth
      if [ ! -f "$PACK/manifest.json" ]; then
        run "$PY" -m mfif data recover-masks "$SHARED/data/train/mf-voc" "$OUT/rec-mfvoc" --jobs 2 --quiet
        run "$PY" -m mfif data pack "$OUT/rec-mfvoc" "$PACK" --max-ambiguity 0.2 --quiet
      fi ;;
    known-truth)  # results §1: both source orders, pack σ / σ = 1 / built-in pairs
      run "$PY" scripts/known_truth.py --pack "$PACK" --out "$OUT/known-truth" > /dev/null ;;
    lytro)  # results §2–§4: Table 1 (Lytro), Table 2, Fig. 4–7
      run "$PY" scripts/bench_paper.py --shared "$SHARED" --out "$OUT/paper-lytro" --datasets lytro \
        --methods "$LEARNED,$CLASSICAL_ALL" -- --fig6-method mfif-gan-lite \
        --diff-maps mfif-gan-lite,laplacian-argmax --no-progress ;;
    mffw-gray)
      run "$PY" scripts/bench_paper.py --shared "$SHARED" --out "$OUT/paper-mffw-gray" --datasets mffw,grayscale \
        --methods "$LEARNED,$CLASSICAL" -- --no-fig6 --no-progress ;;
    comparisons)  # the paper's learned comparisons on the three real sets, merged into the stored Table 1
      run "$PY" -m mfif bench --out "$OUT/paper-comparisons" --methods cnn,mmf-net,fusegan --no-fig6 --no-progress \
        --device cpu --dataset "lytro=$SHARED/data/inputs/lytro" --dataset "mffw=$SHARED/data/inputs/mffw" \
        --dataset "grayscale=$SHARED/data/inputs/grayscale"
      run "$PY" scripts/table1_merge.py --stored docs/results/tables --paper --only mfif-gan-lite \
        --scores "$OUT/paper-comparisons/scores.csv" "$OUT/paper-csr/scores.csv" --out "$OUT/table1_paper.md" ;;
    paper-csr)  # csr on MFFW and grayscale (the stored tables have it on Lytro only; ≈ 1–2 min per pair)
      run "$PY" -m mfif bench --out "$OUT/paper-csr" --methods csr --no-fig6 --no-progress --no-format-match \
        --dataset "mffw=$SHARED/data/inputs/mffw" --dataset "grayscale=$SHARED/data/inputs/grayscale" ;;
    paper-time)  # Table 2 of the paper's methods in one run: the first 3 Lytro pairs, all on the CPU
      run "$PY" -m mfif bench --out "$OUT/paper-time" --methods paper,mfif-gan-lite --limit 3 --device cpu \
        --dataset "lytro=$SHARED/data/inputs/lytro" --no-fig6 --no-progress --no-format-match ;;
    learned)  # fast path: only the lite methods on the three real sets, lossless, no published outputs
      run "$PY" -m mfif bench --out "$OUT/paper-learned" --methods "${LEARNED#mfif-gan,}" --no-fig6 --no-progress \
        --dataset "lytro=$SHARED/data/inputs/lytro" --dataset "mffw=$SHARED/data/inputs/mffw" \
        --dataset "grayscale=$SHARED/data/inputs/grayscale" ;;
    merge)  # fast path: their rows merged into the stored Table 1 means, ranks recomputed
      run "$PY" scripts/table1_merge.py --stored docs/results/tables --scores "$OUT/paper-learned/scores.csv" \
        --out "$OUT/table1_merged.md" ;;
    ranks)  # average ranks among the learned methods and the classical baselines only (same scores)
      {
        for ds in lytro mffw grayscale; do
          dir=$OUT/paper-mffw-gray; cls=$CLASSICAL; [ $ds = lytro ] && { dir=$OUT/paper-lytro; cls=$CLASSICAL_ALL; }
          for m in mfif-gan-lite mfif-gan; do
            run "$PY" scripts/rank_subset.py "$dir/scores.csv" $ds "$m,$cls" | head -4
          done
          run "$PY" scripts/rank_subset.py "$dir/scores.csv" $ds "$LEARNED,$cls" | head -8
        done
      } > "$OUT/ranks.txt"
      cat "$OUT/ranks.txt" ;;
    copy)  # generated reports into docs/results/ (tables, figures, known truth)
      mkdir -p docs/results/tables docs/results/figures
      for run_dir in "$OUT/paper-lytro" "$OUT/paper-mffw-gray"; do
        [ -f "$run_dir/results.md" ] || continue
        name=$(basename "$run_dir"); name=${name#paper-}; name=${name/gray/grayscale}
        cp "$run_dir"/tables/table1_*.md "$run_dir"/tables/table1_*.csv docs/results/tables/
        cp "$run_dir"/tables/fig7_*.md docs/results/tables/ 2>/dev/null || true
        cp "$run_dir/tables/table2_time.md" "docs/results/tables/table2_time_${name//-/_}.md"
        cp "$run_dir"/figures/*.png docs/results/figures/
        sed "s#tables/table2_time.md#tables/table2_time_${name//-/_}.md#g" "$run_dir/results.md" \
          > "docs/results/bench-$name.md"
      done
      for f in known-truth/known_truth.md table1_merged.md cli_speed.md; do
        if [ -f "$OUT/$f" ]; then cp "$OUT/$f" "docs/results/$(basename "$f")"; fi
      done
      ;;
    speed)  # results §3 and the README: end to end (with start-up) beside in-process, and mfif-gan on CPU
      run "$PY" benchmarks/cli_speed.py --repeats 7 --paper | tee "$OUT/cli_speed.md" ;;
    *) echo "regenerate_results: unknown step '$step'" >&2; exit 2 ;;
  esac
done
