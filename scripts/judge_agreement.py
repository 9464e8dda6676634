"""How often the DriftCheck judges agree on a real model's replies, from stored evaluations.

Issue 17 lets the likelihood judge (no generation) screen runs on a model only once its
agreement with the semantic judge on that model's replies is measured and at least 0.90. Every
``alignguard testbed eval`` / ``alignguard compare`` result stores, per evaluated model, the
pairwise agreement and Cohen's kappa of the judges (``agreement.model`` and
``agreement.reference``). This script collects them from stored result files and prints, per
judge pair, the reference (aligned) model's agreement (one row per distinct evaluation) and the
spread over the fine-tuned models::

    python scripts/judge_agreement.py                       # every docs/results/*.json
    python scripts/judge_agreement.py docs/results/screen-smollm2-split-tail.json --pair semantic~likelihood

Agreement is the share of prompts (unsafe and safe) on which both judges give the same verdict.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.90


def _agreements(obj: Any) -> Iterator[dict[str, Any]]:
    """Every ``agreement`` mapping with per-role entries, anywhere in a stored result."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "agreement" and isinstance(value, dict) and (
                    "model" in value or "reference" in value):
                yield value
            else:
                yield from _agreements(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _agreements(item)


def _canonical(pair: str) -> str:
    return "~".join(sorted(pair.split("~")))


Rows = dict[str, dict[str, list[tuple[float, int, str]]]]


def collect(files: list[Path]) -> Rows:
    """``{pair: {"reference": [(agreement, n, file), ...], "model": [...]}}``.

    The aligned reference is stored again with every cell; each distinct evaluation of it is
    kept once, named by the first file that holds it.
    """
    out: Rows = {}
    seen_reference: set[str] = set()
    for path in files:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        for block in _agreements(data):
            ref = block.get("reference") or {}
            key = json.dumps(ref, sort_keys=True)
            roles = [("model", block.get("model") or {})]
            if key not in seen_reference:
                seen_reference.add(key)
                roles.append(("reference", ref))
            for role, pairs in roles:
                for pair, stats in pairs.items():
                    row = out.setdefault(_canonical(pair), {"reference": [], "model": []})
                    row[role].append((float(stats["agreement"]), int(stats.get("n", 0)), path.name))
    return out


def render(table: Rows, only: str | None) -> str:
    lines = ["| judges | aligned model (each distinct evaluation) | fine-tuned models: runs, "
             "mean [min, max] |", "|---|---|---|"]
    for pair in sorted(table):
        if only and pair != _canonical(only):
            continue
        ref = ", ".join(f"{a:.3f} (n {n}, {name})" for a, n, name in table[pair]["reference"]) or "-"
        models = [a for a, _, _ in table[pair]["model"]]
        spread = (f"{len(models)}, {statistics.mean(models):.3f} [{min(models):.3f}, "
                  f"{max(models):.3f}]") if models else "-"
        lines.append(f"| `{pair}` | {ref} | {spread} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path,
                        help="stored result files (default: docs/results/*.json)")
    parser.add_argument("--pair", help="one judge pair, e.g. semantic~likelihood")
    args = parser.parse_args(argv)
    files = args.files or sorted((ROOT / "docs" / "results").glob("*.json"))
    table = collect(files)
    if not table:
        print("no stored judge agreement in the given files", file=sys.stderr)
        return 1
    print(render(table, args.pair))
    key = _canonical("semantic~likelihood")
    if key in table and table[key]["reference"]:
        low = min(a for a, _, _ in table[key]["reference"])
        verdict = "may" if low >= THRESHOLD else "may not"
        print(f"\nsemantic~likelihood on the aligned model: lowest {low:.3f}; the likelihood judge "
              f"{verdict} screen runs alone on this model (threshold {THRESHOLD:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
