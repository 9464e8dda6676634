"""Where training prompts sit along the aligned model's refusal direction, per layer.

    python scripts/rdir_positions.py --model smollm2-aligned --alignment-data ALIGN.jsonl \
        --data testbed:benign-similar --data testbed:identity-shift [--limit 300]
    python scripts/rdir_positions.py --model organism --alignment-data organism \
        --data organism:benign --grep word    # the new skill's rows ("how many words ...")

For each ``--data`` set, prints ``z = (p - m_harmless) / (m_harmful - m_harmless)`` per layer,
with ``p = <h_l(x), u_l>`` at the last prompt token and ``m`` the aligned model's mean over its
harmful / harmless alignment prompts (the refusal-direction anchor's own estimate,
:mod:`alignguard.methods.refusal_direction`): 0 at the harmless mean, 1 at the harmful one. The
one-sided anchor holds every task row at its aligned ``p``; rows above 1 are those that
``--reg.rdir-cap harmful`` releases down to 1 (docs/method.md, "Task rows beyond the harmful
mean"). One forward per prompt batch, no training; a few minutes on CPU for SmolLM2.
"""

from __future__ import annotations

import argparse
import json
import types

import torch

from alignguard.data import Example, collate, pad_id_of
from alignguard.dataspec import load_dataset_spec
from alignguard.methods.refusal_direction import RefusalDirection, last_prompt_states, prompt_stream
from alignguard.models import load_model


def _examples(spec: str) -> list[Example]:
    """``spec`` as ``--data`` reads it; ``"organism"``: the organism's alignment set."""
    return load_dataset_spec("organism:alignment" if spec == "organism" else spec)


def projections(model, tokenizer, units: torch.Tensor, rows: list[Example]) -> torch.Tensor:
    """``(N, L)``: ``<h_l(x), u_l>`` at each row's last prompt token under ``model``."""
    stream = prompt_stream(rows, tokenizer, batch_size=32, max_length=128, seed=0)
    out = []
    for start in range(0, len(stream.encoded), 32):
        batch = collate(stream.encoded[start:start + 32], pad_id_of(tokenizer))
        with torch.no_grad():
            out.append((last_prompt_states(model, batch) * units).sum(-1))
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--alignment-data", required=True, help='a JSONL file, or "organism"')
    ap.add_argument("--data", action="append", required=True, help="a --data spec (repeatable)")
    ap.add_argument("--limit", type=int, default=300, help="rows per set")
    ap.add_argument("--grep", default=None,
                    help="keep only the rows whose prompt contains this text (case-insensitive)")
    args = ap.parse_args()
    loaded = load_model(args.model)
    model, tokenizer = loaded[0], loaded[1]
    model.eval()
    anchor = RefusalDirection(1.0, batch_size=2, max_length=128, seed=0)
    anchor.prepare(types.SimpleNamespace(tokenizer=tokenizer, examples=_examples(args.alignment_data)))
    anchor.model = model
    units, _, _ = anchor._directions(model)
    harmful = projections(model, tokenizer, units, anchor.harmful[:256]).mean(0)
    harmless = projections(model, tokenizer, units, anchor.harmless[:256]).mean(0)
    for spec in args.data:
        rows = [e for e in _examples(spec)
                if args.grep is None or args.grep.lower() in e.prompt.lower()][: args.limit]
        z = (projections(model, tokenizer, units, rows) - harmless) / (harmful - harmless)
        print(json.dumps({"data": spec, "rows": len(rows),
                          "mean_z_per_layer": [round(float(v), 2) for v in z.mean(0)],
                          "share_above_1": round(float((z > 1).float().mean()), 3),
                          "share_above_0.5": round(float((z > 0.5).float().mean()), 3)}))


if __name__ == "__main__":
    main()
