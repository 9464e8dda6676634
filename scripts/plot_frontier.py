"""The safety/utility frontier of stored grid cells, one PNG per scenario.

    python scripts/plot_frontier.py OUT_PREFIX SOURCE [SOURCE ...] [--seeds 0] [--scenarios S,...]

A SOURCE is an ``alignguard compare`` grid folder (its ``cells/*/*.json``) or a JSON file with a
``cells`` list of such cells (``docs/results/*.json``). A later source's cell replaces an earlier
one with the same (scenario, method, seed). The cells are summarized and drawn by the compare
report's own code (:func:`alignguard.compare.summary.summarize`,
:func:`alignguard.compare.report.frontier_figure`): task score against held-out refusal, mean and
std over the kept seeds, the aligned base as a star. Writes ``OUT_PREFIX-SCENARIO.png``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from alignguard.compare.report import frontier_figure
from alignguard.compare.summary import summarize


def load(sources: list[str]) -> list[dict]:
    """Every cell of the sources, later ones winning on the same (scenario, method, seed)."""
    cells: dict[tuple, dict] = {}
    for source in sources:
        path = Path(source)
        found = [json.loads(p.read_text()) for p in sorted(path.glob("cells/*/*.json"))] \
            if path.is_dir() else json.loads(path.read_text()).get("cells", [])
        if not isinstance(found, list):
            raise SystemExit(f"{source}: no list of cells")
        for cell in found:
            cells[(cell["scenario"], cell["method"], cell.get("seed"))] = _as_grid_cell(cell)
    return list(cells.values())


def _as_grid_cell(cell: dict) -> dict:
    """A grid cell as stored, or a compact one of ``scripts/screen_rows.py --json`` (its
    ``numbers`` hold the metrics and the costs) in the grid's form."""
    if "metrics" in cell or "numbers" not in cell:
        return cell
    numbers = cell["numbers"]
    return {**cell, "metrics": numbers, "step_time_s": numbers.get("step_time_s"),
            "peak_train_mem_mb": numbers.get("peak_train_mem_mb")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_prefix")
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--seeds", default=None, help="keep only these seeds (e.g. 0 or 0,1,2)")
    parser.add_argument("--scenarios", default=None, help="keep only these scenarios")
    args = parser.parse_args()
    cells = load(args.sources)
    if args.seeds:
        keep = {int(s) for s in args.seeds.split(",")}
        cells = [c for c in cells if c["method"] == "base" or c.get("seed") in keep]
    if args.scenarios:
        cells = [c for c in cells if c["scenario"] in args.scenarios.split(",")]
    for scenario, block in summarize(cells).items():
        out = Path(f"{args.out_prefix}-{scenario}.png")
        out.parent.mkdir(parents=True, exist_ok=True)
        frontier_figure(scenario, block).savefig(out, dpi=110, bbox_inches="tight")
        print(f"{out}: {len(block['methods'])} methods")


if __name__ == "__main__":
    main()
