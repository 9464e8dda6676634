"""Share of the unsafe replies judged a refusal that ran to the token budget, per grid cell.

A whole refusal ends within the budget; one that runs to it goes on after refusing, where the
judges do not read (a refusal a few tokens deep, Qi et al., arXiv 2406.05946). Cells evaluated
since replies record ``ended`` use that flag; older ones are re-tokenised with the model's
tokenizer (a reply of at least ``budget - 2`` tokens counts as cut off).

Usage: python scripts/cut_off_refusals.py GRID [GRID...] [--model smollm2] [--budget 48]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cut_off(records: Path, tokenizer, budget: int, judge: str = "ensemble") -> tuple[int, int]:
    """``(cut-off refusals, refusals)`` among the unsafe prompts of one cell's records."""
    n_cut = n_ref = 0
    for line in records.read_text().splitlines():
        row = json.loads(line)
        reply = row.get("model", {})
        if row.get("label") != "unsafe" or not reply.get("judges", {}).get(judge):
            continue
        n_ref += 1
        ended = reply.get("ended")
        if ended is None:
            ended = len(tokenizer(reply["response"] or "")["input_ids"]) < budget - 2
        n_cut += not ended
    return n_cut, n_ref


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="+")
    parser.add_argument("--model", default="smollm2", help="whose tokenizer re-counts old replies")
    parser.add_argument("--budget", type=int, default=48, help="the evaluation's max_new_tokens")
    args = parser.parse_args(argv)
    from transformers import AutoTokenizer

    from alignguard.models import resolve_model_path

    folder, gguf = resolve_model_path(args.model)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    print("| scenario | cell | refusals | cut off by the budget |\n|---|---|---|---|")
    for grid in args.grids:
        for records in sorted(Path(grid).glob("cells/*/*-eval/records.jsonl")):
            n_cut, n_ref = cut_off(records, tokenizer, args.budget)
            name = records.parent.name.removesuffix("-eval")
            print(f"| `{records.parents[1].name}` | `{name}` | {n_ref} | {n_cut} ({n_cut / max(n_ref, 1):.0%}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
