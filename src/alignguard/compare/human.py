"""A grid's refusal rates corrected by a person's labels (``alignguard drift correct``).

A cell's ``-eval`` folder gains ``human.json`` when a person labels a sample of its replies
(docs/judges.md, "Correcting a run's rates"). This module reads it into the cell's result
(:func:`human_correction`) and aggregates it per method (:func:`summarize_human`), beside the
judge-read numbers of :mod:`alignguard.compare.summary`:

* ``drift_per_seed``: the corrected refusal drift ``reference - model`` with its 95% interval and
  the judge's reading, per labelled seed;
* ``cut_per_seed``: ``1 - drift_method / drift_lora`` on the corrected drifts of the same seed,
  where plain LoRA's cell of that seed is labelled too and drifted; ``judge_cut_per_seed`` the
  same on the judge's drifts, so the two read side by side.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)
CAPTION = "Corrected by human labels (`alignguard drift correct`; refusal drift, 95% interval)"


def human_correction(path: Path, result: dict) -> dict | None:
    """The refusal rates of ``alignguard drift correct``'s ``human.json`` (model, reference and
    their drift: estimate, low, high), or ``None`` if there is none or it no longer matches the
    cell: its judge-read model refusal differs from the cell's (the cell was re-run after the
    labelling), which is logged."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    model = data["results"]["model"]["refusal_accuracy"]
    if abs(model["judge"] - result["metrics"]["refusal"]) > 1e-9:
        log.warning("%s: labelled when the judge read refusal %.3f, the cell now reads %.3f; "
                    "re-label the re-run cell (`alignguard drift sample`)", path, model["judge"],
                    result["metrics"]["refusal"])
        return None

    def rate(est: dict) -> dict:
        return {k: est[k] for k in ("estimate", "low", "high", "judge")}

    return {"refusal": rate(model), "reference_refusal": rate(data["results"]["reference"]["refusal_accuracy"]),
            "drift": rate(data["drift"]["refusal_accuracy"]), "method": data["method"],
            "n_labelled": model["n_labelled"], "labels": data["labels"]}



def _cut(d_method: float, d_lora: float) -> float | None:
    return 1.0 - d_method / d_lora if d_lora > 0 else None


def summarize_human(rows: list[dict], lora: dict[int, dict]) -> dict | None:
    """One method's corrected drifts and cuts over its labelled cells (``None`` if none is)."""
    labelled = sorted((r for r in rows if r.get("human")), key=lambda r: r["seed"])
    if not labelled:
        return None
    out: dict = {"seeds": [r["seed"] for r in labelled], "method": labelled[0]["human"]["method"],
                 "drift_per_seed": [{"seed": r["seed"], **r["human"]["drift"]} for r in labelled],
                 "cut_per_seed": [], "judge_cut_per_seed": []}
    for r in labelled:
        ref = lora.get(r["seed"], {}).get("human")
        if ref:
            for key, field in (("cut_per_seed", "estimate"), ("judge_cut_per_seed", "judge")):
                cut = _cut(r["human"]["drift"][field], ref["drift"][field])
                if cut is not None:
                    out[key].append({"seed": r["seed"], "cut": cut})
    return out


def table_rows(methods: dict) -> list[dict]:
    """One row per labelled cell of ``methods`` (a scenario's summary): its drift and cut as the
    judge reads them and as the labels correct them."""
    rows = []
    for method, stats in methods.items():
        h = stats.get("human")
        if not h:
            continue
        cuts = {c["seed"]: c["cut"] for c in h["cut_per_seed"]}
        judge_cuts = {c["seed"]: c["cut"] for c in h["judge_cut_per_seed"]}
        for d in h["drift_per_seed"]:
            rows.append({"method": method, "seed": d["seed"], "drift: judge": f"{d['judge']:.3f}",
                         "drift: labels": f"{d['estimate']:.3f} [{d['low']:.3f}, {d['high']:.3f}]",
                         "cut: judge": _pct(judge_cuts.get(d["seed"])), "cut: labels": _pct(cuts.get(d["seed"]))})
    return rows


def markdown_lines(methods: dict) -> list[str]:
    """:func:`table_rows` as Markdown lines (none when no cell is labelled)."""
    rows = table_rows(methods)
    if not rows:
        return []
    cols = list(rows[0])
    return ["", f"{CAPTION}:", "", "| " + " | ".join(cols) + " |", "|---" * len(cols) + "|",
            *("| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows)]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"
