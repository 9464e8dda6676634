"""Re-evaluate the organism grids' adapters on the whole held-out task set and pair them with
plain LoRA at the same seed and setting.

    python scripts/organism_full_task.py OUT.json GRID[::SETTING] [GRID[::SETTING] ...]

A GRID is an ``alignguard compare`` output folder on the organism; runs of several GRIDs that
share a SETTING (default: the folder's name) are pooled, so that seeds run in two grids pair up
(each needs plain LoRA at the seeds of its methods). Each run is evaluated once with ``alignguard
organism eval --adapter RUN/adapter --json`` (cached as ``GRID/full-task/RUN.json``): 100 held-out
``tally`` items in the trained phrasings and 100 in new ones, where the grid scored 60 (one item
is 1.7 points there, 1 here). Per setting and method: the paired task differences against plain
LoRA on the 60, 100 and new-phrasing items, their mean over the 200 items with a 95% percentile
bootstrap interval over seeds, and the drift cut (docs/method.md, "The organism's task at half the
learning rate"). The re-evaluation's refusal must equal the grid's (the same 240 prompts, greedy
decoding): a mismatch is an error. ~30 s per run on 2 CPU threads.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
from pathlib import Path


def evaluate(grid: Path, run: Path) -> dict:
    """The cached (or fresh) ``organism eval`` of ``run`` on the held-out split."""
    cache = grid / "full-task" / f"{run.name}.json"
    if not cache.exists():
        out = subprocess.run([sys.executable, "-m", "alignguard.cli", "organism", "eval", "--adapter",
                              str(run / "adapter"), "--scenario", run.parent.name, "--json"],
                             check=True, capture_output=True, text=True).stdout
        cache.parent.mkdir(exist_ok=True)
        cache.with_suffix(".tmp").write_text(out)
        cache.with_suffix(".tmp").replace(cache)
    return json.loads(cache.read_text())["heldout"]


def interval(xs: list[float], n: int = 4000) -> list[float]:
    """95% percentile bootstrap interval of the mean of ``xs`` (seeded)."""
    rng = random.Random(0)
    means = sorted(statistics.mean(rng.choices(xs, k=len(xs))) for _ in range(n))
    return [round(means[int(0.025 * n)], 2), round(means[int(0.975 * n)], 2)]


def collect(specs: list[str]) -> tuple[dict, float]:
    """``{(setting, method, seed): numbers}`` over every run of the GRIDs, and aligned refusal."""
    cells, aligned = {}, None
    for spec in specs:
        path, _, setting = spec.partition("::")
        grid = Path(path)
        for cell in sorted(grid.glob("cells/*/*-seed*.json")):
            stored = json.loads(cell.read_text())
            method, seed = cell.stem.rsplit("-seed", 1)
            full = evaluate(grid, grid / "runs" / cell.parent.name / cell.stem)
            if abs(full["refusal_accuracy"] - stored["metrics"]["refusal"]) > 1e-9:
                raise SystemExit(f"{cell}: refusal {full['refusal_accuracy']} on re-evaluation, "
                                 f"{stored['metrics']['refusal']} in the grid")
            cells[(setting or grid.name, method, int(seed))] = {
                "task_60": stored["metrics"]["task"], "task_100": full["task_score"],
                "task_new_phrasing": full["task_score_new_phrasing"], "refusal": full["refusal_accuracy"]}
        base = next(grid.glob("cells/*/base.json"), None)
        if base is not None:
            aligned = json.loads(base.read_text())["metrics"]["refusal"]
    if aligned is None:
        raise SystemExit("no grid holds the aligned model's cell (cells/*/base.json)")
    return cells, aligned


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("grids", nargs="+")
    args = ap.parse_args()
    cells, aligned = collect(args.grids)
    rows = {}
    for setting, method in sorted({(s, m) for s, m, _ in cells if m != "lora"}):
        seeds = sorted(sd for s, m, sd in cells if (s, m) == (setting, method) and (s, "lora", sd) in cells)
        if not seeds:
            continue
        pair = [(cells[(setting, method, sd)], cells[(setting, "lora", sd)]) for sd in seeds]
        diff = {k: [round(100 * (a[k] - b[k]), 1) for a, b in pair]
                for k in ("task_60", "task_100", "task_new_phrasing")}
        both = [(x + y) / 2 for x, y in zip(diff["task_100"], diff["task_new_phrasing"], strict=True)]
        cut = [100 * (a["refusal"] - b["refusal"]) / (aligned - b["refusal"]) for a, b in pair]
        rows[f"{setting} {method}"] = {
            "seeds": seeds, **diff, "task_200_mean": round(statistics.mean(both), 2),
            "task_200_interval": interval(both), "task_100_mean": round(statistics.mean(diff["task_100"]), 2),
            "task_100_interval": interval(diff["task_100"]), "cut": [round(c) for c in cut],
            "cut_mean": round(statistics.mean(cut), 1),
            "lora_task_100": [b["task_100"] for _, b in pair]}
        print(f"{setting:>12} {method:<34} task(200) {rows[f'{setting} {method}']['task_200_mean']:+.1f} "
              f"{rows[f'{setting} {method}']['task_200_interval']}  cut {statistics.mean(cut):.0f}%")
    Path(args.out).write_text(json.dumps({"aligned_refusal": aligned, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
