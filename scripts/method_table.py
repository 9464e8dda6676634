"""Every method on aligned SmolLM2 at the scenario defaults: one table, mean +- std over the seeds run.

    python scripts/method_table.py [FILE ...] [--json OUT.json]

Reads the stored screening cells (``docs/results``: ``cells`` written by ``scripts/screen_rows.py``
and ``runs`` written by ``scripts/pack_runs.py``; by default the files listed in ``SOURCES``, the
ones at the scenario defaults, not the robustness or ablation grids) and pairs every cell with
plain LoRA's of the same scenario and seed. ``alignguard`` cells are named by their resolved
settings (``resolved_reg`` in the run's config), so the default since stop 42 (with the
refusal-direction anchor), the default of stops 34-41 (``alignguard-kl``: refusals anchored
through their end, tails averaged apart) and earlier forms (4 tokens alone) stay apart. Per
scenario and method: the seeds, refusal, the drift cut ``1 - (aligned - refusal) / (aligned -
refusal_LoRA)``, task minus plain LoRA's (points), over-refusal and degenerate rate minus the
aligned model's (points), each as mean +- std over seeds (std omitted for one seed), and the
drift cut again with refusals counted by the keyword judge (the cross-check: the default
``ensemble`` judge over-counts refusals on SmolLM2's terse replies, docs/judges.md). All cells use
the screening evaluation (120 unsafe / 80 safe DriftCheck prompts, 120 task items, CPU); a cell
that appears in several files is taken from the first.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

SOURCES = [f"docs/results/screen-smollm2-{name}.json" for name in (
    "split-tail", "default", "control", "methods", "peers", "agl", "agl-paper-control", "agl-stop35",
    "agl-stop36", "peers-stop41", "default-stop42", "refusal-direction-stop41", "peers-stop43", "peers-stop44", "peers-stop45",
    "peers-stop46", "peers-stop47")]
ORDER = ("identity-shift", "benign-similar", "poisoned", "control")


def label(cell: dict) -> str | None:
    """The method's name in the table; ``None`` for an alignguard variant that is not a default."""
    method = cell["method"]
    if not method.startswith("alignguard"):
        return method
    cfg = cell.get("config") or cell.get("train_config") or {}
    reg = cfg.get("resolved_reg") or {}
    whole = reg.get("kl_refusal_tokens") == 256 and reg.get("kl_split_tail") \
        and (reg.get("kl_every") or 1) == 1  # a lazy anchor (kl_every > 1) is no default's form
    if whole and reg.get("lam_rdir") == 1.0 and reg.get("rdir_source") == "batch" \
            and reg.get("rdir_task") == "one-sided" and not reg.get("rdir_refusals"):
        return "alignguard"
    if whole and not reg.get("lam_rdir"):
        return "alignguard-kl (the default of stops 34-41)"
    if reg.get("kl_tokens") == 4 and not reg.get("kl_refusal_tokens"):
        return "alignguard[kl_refusal_tokens=4] (before stop 34)"
    return None


def point(cell: dict) -> dict | None:
    """Refusal, task and the aligned model's over-refusal / degenerate rate of one stored cell."""
    head = cell.get("headline") or (cell.get("evaluation") or {}).get("headline")
    if cell["method"] == "base" or not head:
        return None
    tasks = [t["model"]["estimate"] for t in head["task_score"].values()]
    by_judge = cell.get("refusal_drift_by_judge") or (cell.get("evaluation") or {}).get(
        "refusal_drift_by_judge") or {}
    return {"drift_keyword": (by_judge.get("keyword") or {}).get("estimate"),
            "refusal": head["refusal"]["model"]["estimate"], "aligned": head["refusal"]["reference"]["estimate"],
            "task": statistics.fmean(tasks), "over_refusal": head["over_refusal"]["model"]["estimate"],
            "aligned_over_refusal": head["over_refusal"]["reference"]["estimate"],
            "degenerate": head["degenerate_rate"]["model"]["estimate"],
            "aligned_degenerate": head["degenerate_rate"]["reference"]["estimate"]}


def load(files: list[str]) -> dict[tuple[str, str, int], dict]:
    """(scenario, method, seed) -> point, first file winning."""
    out: dict[tuple[str, str, int], dict] = {}
    for f in files:
        if not Path(f).is_file():
            continue
        doc = json.loads(Path(f).read_text())
        for cell in doc.get("cells") or doc.get("runs") or []:
            name, p = label(cell), point(cell)
            if name and p and cell.get("seed") is not None:
                out.setdefault((cell["scenario"], name, cell["seed"]), p)
    return out


def _fmt(values: list[float], scale: float = 1.0, signed: bool = False, unit: str = "") -> str:
    """``mean ± std`` (std left out for one value): points signed to 0.1, percent to 1, else 0.001."""
    mean = statistics.fmean(values) * scale
    std = statistics.stdev(values) * scale if len(values) > 1 else None
    if unit == "%":
        return f"{round(mean)}%" + ("" if std is None else f" ± {round(std)}")
    if signed:
        mean = 0.0 if abs(mean) < 0.05 else mean  # no "-0.0"
        return f"{mean:+.1f}" + ("" if std is None else f" ± {std:.1f}")
    return f"{mean:.3f}" + ("" if std is None else f" ± {std:.3f}")


def table(points: dict[tuple[str, str, int], dict]) -> list[dict]:
    """One row per (scenario, method) with plain LoRA at the same seeds."""
    rows = []
    groups: dict[tuple[str, str], list[int]] = {}
    for scenario, method, seed in points:
        groups.setdefault((scenario, method), []).append(seed)
    for (scenario, method), seeds in groups.items():
        seeds = sorted(s for s in seeds if (scenario, "lora", s) in points)
        if method == "lora" or not seeds:
            continue
        cells = [points[(scenario, method, s)] for s in seeds]
        loras = [points[(scenario, "lora", s)] for s in seeds]
        rows.append({
            "scenario": scenario, "method": method, "seeds": seeds,
            "refusal": [c["refusal"] for c in cells],
            "drift_cut": [1 - (c["aligned"] - c["refusal"]) / (c["aligned"] - lo["refusal"])
                          for c, lo in zip(cells, loras, strict=True)],
            "task_vs_lora": [c["task"] - lo["task"] for c, lo in zip(cells, loras, strict=True)],
            "over_refusal_vs_aligned": [c["over_refusal"] - c["aligned_over_refusal"] for c in cells],
            "degenerate_vs_aligned": [c["degenerate"] - c["aligned_degenerate"] for c in cells],
            "drift_cut_keyword": _keyword_cuts(cells, loras)})
    rows.sort(key=lambda r: (ORDER.index(r["scenario"]) if r["scenario"] in ORDER else 9,
                             -statistics.fmean(r["drift_cut"])))
    return rows


def _keyword_cuts(cells: list[dict], loras: list[dict]) -> list[float] | None:
    """The drift cut with refusals counted by the keyword judge, ``1 - drift_kw / drift_kw(LoRA)``
    (drift = the aligned model's refusal minus the model's on the same prompts); ``None`` when a
    cell did not record that judge."""
    pairs = [(c.get("drift_keyword"), lo.get("drift_keyword")) for c, lo in zip(cells, loras, strict=True)]
    if any(a is None or not b for a, b in pairs):
        return None
    return [1 - a / b for a, b in pairs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=None)
    parser.add_argument("--json", default=None, help="write the rows here")
    args = parser.parse_args(argv)
    rows = table(load(args.files or SOURCES))
    print("| scenario | method | seeds | refusal | drift cut | task vs LoRA (points) | "
          "over-refusal vs aligned (points) | degenerate vs aligned (points) | drift cut, keyword judge |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['scenario']}` | `{r['method']}` | {','.join(map(str, r['seeds']))} | "
              f"{_fmt(r['refusal'])} | {_fmt(r['drift_cut'], 100, unit='%')} | "
              f"{_fmt(r['task_vs_lora'], 100, True)} | {_fmt(r['over_refusal_vs_aligned'], 100, True)} | "
              f"{_fmt(r['degenerate_vs_aligned'], 100, True)} | "
              f"{'—' if r['drift_cut_keyword'] is None else _fmt(r['drift_cut_keyword'], 100, unit='%')} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
