#!/usr/bin/env bash
# Robustness of a method on the organism (docs/results.md, "Robustness of the default"; issue 18): one
# setting changed at a time, plain LoRA and the method at the same seeds, one grid folder per
# setting so that every grid stays resumable and seeds can be added later.
# Usage: scripts/organism_robustness.sh [ROOT]
#   SEED_LIST=2,3 SETTINGS="lr-x2 lr-x0.5" METHOD=alignguard scripts/organism_robustness.sh runs/robust
#   JOBS=2: two cells at a time (one thread each unless OMP_NUM_THREADS says otherwise)
# Settings: default (200 steps, r = 8 on every projection, lr 2e-3), poisoned, r16-attention,
# lr-x2, lr-x0.5, steps-x2. One cell is 2-4 min on one CPU thread (steps-x2: twice that).
set -euo pipefail
ROOT=${1:-runs/robustness}
PY=${PYTHON:-python}
METHOD=${METHOD:-alignguard}
SEED_LIST=${SEED_LIST:-0,1,2}
SETTINGS=${SETTINGS:-default poisoned r16-attention lr-x2 lr-x0.5 steps-x2}
for setting in $SETTINGS; do
    scenario=benign
    extra=()
    case "$setting" in
        default) ;;
        poisoned) scenario=poisoned ;;
        r16-attention) extra=(--train.lora.r 16 --train.lora.alpha 32
                              --train.lora.target-modules attention) ;;
        lr-x2) extra=(--train.lr 4e-3) ;;
        lr-x0.5) extra=(--train.lr 1e-3) ;;
        steps-x2) extra=(--steps 400) ;;
        *) echo "unknown setting: $setting" >&2; exit 2 ;;
    esac
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$PY" -m alignguard.cli compare \
        --methods "lora,$METHOD" --scenarios "$scenario" --seed-list "$SEED_LIST" \
        --output "$ROOT/$setting" --jobs "${JOBS:-1}" "${extra[@]}"
done
