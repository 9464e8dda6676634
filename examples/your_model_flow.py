"""Fine-tune "your model" with AlignGuard and check its alignment drift, on a bundled dataset.

Runs offline in well under a minute on a laptop CPU: the shipped model organism stands in for
your aligned model. For your own model set ``MODEL`` to a local folder, a ``.gguf`` file or a
hub id already in the local Hugging Face cache, and the data paths to your files.

    python examples/your_model_flow.py [--output runs/example]

1. check the inputs (data rows, alignment pairs, model) before anything loads;
2. train with AGL: the alignment Fisher and the gate are estimated at your model's weights from
   ``data/alignment.jsonl`` (TRL preference rows prompt/chosen/rejected), the adapter learns
   ``data/task.jsonl`` (TRL prompt/completion rows), ``data/chat.jsonl`` (multi-turn
   ``messages``) is the held-out set evaluated every few steps;
3. DriftCheck: the fine-tuned model against your base on a slice of the bundled suite
   (drift = base refusal - fine-tuned refusal, positive = refusals lost).

The equivalent commands::

    alignguard train --model organism --data examples/data/task.jsonl --method agl \\
        --alignment.data examples/data/alignment.jsonl --eval-data examples/data/chat.jsonl \\
        --eval-every 4 --steps 8 --batch-size 4 --output-dir runs/example/agl
    alignguard drift --model organism --adapter runs/example/agl/adapter --reference organism \\
        --suite organism --limit 12 --max-new-tokens 16 --judges keyword --out runs/example/drift
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from alignguard.alignment.settings import AlignmentSettings
from alignguard.drift.runner import DriftConfig, run_drift
from alignguard.training.config import TrainConfig
from alignguard.training.loop import train
from alignguard.training.preflight import check_inputs

MODEL = "organism"  # your model: "path/to/aligned-model", "model.gguf" or a cached hub id
DATA = Path(__file__).resolve().parent / "data"
SUITE = "organism"  # the organism's held-out prompts; for your model: "driftcheck-en"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="runs/example", help="folder for the run and report")
    out = Path(parser.parse_args().output)

    cfg = TrainConfig(model=MODEL, data=str(DATA / "task.jsonl"), method="agl",
                      alignment=AlignmentSettings(data=str(DATA / "alignment.jsonl")),
                      eval_data=str(DATA / "chat.jsonl"), eval_every=4, steps=8, batch_size=4,
                      warmup_steps=2, log_every=2, save_every=0, output_dir=str(out / "agl"))
    check_inputs(cfg)  # bad rows or a missing model fail here, in seconds
    result = train(cfg, overwrite=True)
    print("last log row:", json.dumps(result.history[-1]))

    report = run_drift(DriftConfig(model=MODEL, adapter=str(out / "agl" / "adapter"),
                                   reference=MODEL, suite=SUITE, limit=12, max_new_tokens=16,
                                   judges=("keyword",), n_boot=200, out_dir=str(out / "drift")))
    drift = report["drift"]["keyword"]["refusal_accuracy"]
    print(f"refusal drift (base - fine-tuned): {drift['estimate']:+.3f} "
          f"[{drift['low']:+.3f}, {drift['high']:+.3f}]; report: {out / 'drift' / 'drift.html'}")
    for warning in report["warnings"]:
        print("warning:", warning)


if __name__ == "__main__":
    main()
