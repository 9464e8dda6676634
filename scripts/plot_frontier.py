"""The safety/utility frontier of stored grid cells, one PNG per scenario.

    python scripts/plot_frontier.py OUT_PREFIX SOURCE [SOURCE ...] [--seeds 0] [--scenarios S,...]

A SOURCE is an ``alignguard compare`` grid folder (its ``cells/*/*.json``) or a JSON file with a
``cells`` list of such cells or a ``runs`` list of ``scripts/pack_runs.py`` (``docs/results/*.json``).
A later source's cell replaces an earlier one with the same (scenario, method, seed). Cells of
``alignguard`` variants are named as ``scripts/method_table.py`` names them (the default since
stop 42 ``alignguard``, the one of stops 34-41 ``alignguard-kl ...``, the one before it
``alignguard[kl_refusal_tokens=4] ...``; other variants are left out). The cells are summarized and drawn by the compare
report's own code (:func:`alignguard.compare.summary.summarize`,
:func:`alignguard.compare.report.frontier_figure`): task score against held-out refusal, mean and
std over the kept seeds, the aligned base as a star. Writes ``OUT_PREFIX-SCENARIO.png``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

from alignguard.compare.report import frontier_figure
from alignguard.compare.summary import summarize


def _method_table():
    """``scripts/method_table.py`` as a module (its :func:`label` names alignguard variants)."""
    spec = importlib.util.spec_from_file_location("method_table", Path(__file__).with_name("method_table.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(sources: list[str]) -> list[dict]:
    """Every cell of the sources, later ones winning on the same (scenario, method, seed)."""
    label = _method_table().label
    cells: dict[tuple, dict] = {}
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = [json.loads(p.read_text()) for p in sorted(path.glob("cells/*/*.json"))]
        else:
            doc = json.loads(path.read_text())
            found = doc.get("cells") or doc.get("runs") or []
        if not isinstance(found, list):
            raise SystemExit(f"{source}: no list of cells")
        for cell in found:
            name = cell["method"] if cell["method"] == "base" else label(cell)
            if name is not None:
                cells[(cell["scenario"], name, cell.get("seed"))] = _as_grid_cell({**cell, "method": name})
    return list(cells.values())


def _as_grid_cell(cell: dict) -> dict:
    """A grid cell as stored, or a compact one of ``scripts/screen_rows.py --json`` or
    ``scripts/pack_runs.py`` (its ``numbers`` hold the metrics and the costs) in the grid's form."""
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
