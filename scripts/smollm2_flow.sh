#!/usr/bin/env bash
# The AlignGuard flow on a real instruct model, SmolLM2-135M-Instruct, sized for a 2-core CPU:
#   align (refusal SFT, merged) -> alignment Fisher -> plain LoRA vs AGL on the benign-similar
#   scenario -> DriftCheck (drift vs the aligned model) and the new skill's task score.
# Usage: scripts/smollm2_flow.sh [RUN_DIR]   (needs `make install-smollm2`)
#   GPU: CONFIG_SUFFIX=gpu DEVICE=cuda FISHER_EXAMPLES=360 DRIFT_LIMIT=1357 scripts/smollm2_flow.sh
# Re-running skips the stages whose outputs exist (the align stage takes ~25 min on 2 cores).
set -euo pipefail
RUN=${1:-runs/smollm2}
SUFFIX=${CONFIG_SUFFIX:-cpu}
AG=${ALIGNGUARD:-alignguard}
ALIGNED=runs/align-smollm2/model
LIMIT=${DRIFT_LIMIT:-120}

[ -f "$ALIGNED/model.safetensors" ] || "$AG" align --config "configs/smollm2-align-$SUFFIX.yaml"
[ -f "$RUN/fisher/fisher.json" ] || "$AG" fisher --model "$ALIGNED" \
    --data runs/align-smollm2/data/align.jsonl --estimator empirical --tokens all --output "$RUN/fisher" \
    --max-examples "${FISHER_EXAMPLES:-128}" --batch-size 8 --max-length 128
# EXTRA_LAMS="100 1000" adds AGL runs with those lam_A values (runs/smollm2/agl-lam100, ...)
for variant in lora agl $(for l in ${EXTRA_LAMS:-}; do echo "agl-lam$l"; done); do
  method=${variant%%-lam*}
  extra=()
  [ "$variant" = "$method" ] || extra=(--lam-A "${variant##*-lam}")
  [ -f "$RUN/$variant/adapter/adapter_config.json" ] || "$AG" train \
      --config "configs/smollm2-$SUFFIX.yaml" --method "$method" --fisher "$RUN/fisher" \
      --output-dir "$RUN/$variant" "${extra[@]}"
  [ -f "$RUN/drift-$variant/drift.json" ] || "$AG" drift --model "$ALIGNED" \
      --adapter "$RUN/$variant/adapter" --reference "$ALIGNED" --judges keyword,semantic \
      --limit "$LIMIT" --max-new-tokens 48 --device "${DEVICE:-cpu}" --out "$RUN/drift-$variant"
  [ -f "$RUN/task-$variant.json" ] || { "$AG" organism eval --model "$ALIGNED" \
      --adapter "$RUN/$variant/adapter" --limit 10 --json > "$RUN/task-$variant.json.tmp" \
      && mv "$RUN/task-$variant.json.tmp" "$RUN/task-$variant.json"; }
done
[ -f "$RUN/task-base.json" ] || { "$AG" organism eval --model "$ALIGNED" --limit 10 --json \
    > "$RUN/task-base.json.tmp" && mv "$RUN/task-base.json.tmp" "$RUN/task-base.json"; }
