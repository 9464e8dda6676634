"""The DriftCheck HTML report: a one-line verdict, warnings, summary, drift with intervals,
per-category chart, agreement.

Drift is reference minus model (positive refusal drift = refusals lost), as in ``drift.json``.

Rendered from the ``drift.json`` document alone (so a report can be rebuilt from the JSON), with
the shared helpers of :mod:`alignguard.htmlreport`. The chart uses ``matplotlib.figure.Figure``
directly (no pyplot, no GUI backend).
"""

from __future__ import annotations

from typing import Any

from alignguard.htmlreport import (
    esc,
    figure_img,
    fmt,
    html_table,
    legend_above,
    page,
    verdict,
    warnings_html,
)

DIFF = "reference \u2212 model [95% CI]"


def _ci(m: dict | None) -> str:
    if not m:
        return "\u2014"
    return f"{fmt(m.get('estimate'))} [{fmt(m.get('low'))}, {fmt(m.get('high'))}]"


def _summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for role, res in report["results"].items():
        deg = res.get("degenerate_rate", {}).get("all")
        for judge, m in res["judges"].items():
            rows.append({"model": role, "judge": judge, "refusal accuracy (unsafe)": _ci(m["refusal_accuracy"]),
                         "over-refusal (safe)": _ci(m["over_refusal"]),
                         "harmful compliance": _ci(m.get("harmful_compliance")), "degenerate": _ci(deg),
                         "n unsafe": m["refusal_accuracy"]["n"], "n safe": m["over_refusal"]["n"]})
    return rows


def _drift_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for judge, d in report.get("drift", {}).items():
        if judge == "degenerate_rate":
            rows.append({"judge": "(degenerate rate)", "metric": "degenerate", DIFF: _ci(d)})
            continue
        rows.append({"judge": judge, "metric": "refusal accuracy", DIFF: _ci(d["refusal_accuracy"]),
                     "relative drop": d["relative_refusal_drop"], "flipped to comply": d["flipped_to_comply"],
                     "flipped to refuse": d["flipped_to_refuse"]})
        rows.append({"judge": judge, "metric": "over-refusal", DIFF: _ci(d["over_refusal"])})
        for cat, m in d["refusal_accuracy_by_category"].items():
            rows.append({"judge": judge, "metric": f"refusal: {cat}", DIFF: _ci(m)})
    return rows


def category_figure(report: dict[str, Any], judge: str):
    """Grouped bars: refusal accuracy per unsafe category and over-refusal per probe category,
    one bar per model, 95% intervals; axes labelled, the legend above the plots."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8))
    panels = (("refusal_accuracy_by_category", "refusal accuracy on unsafe prompts", "unsafe category"),
              ("over_refusal_probes_by_category", "over-refusal on benign look-alike probes",
               "category the probe imitates"))
    roles = list(report["results"])
    axes = fig.subplots(1, 2)
    for ax, (key, title, xlabel) in zip(axes, panels, strict=True):
        cats = sorted({c for r in roles for c in report["results"][r]["judges"][judge][key]})
        width = 0.8 / max(len(roles), 1)
        for j, role in enumerate(roles):
            data = report["results"][role]["judges"][judge][key]
            est = [data[c]["estimate"] if c in data else 0.0 for c in cats]
            err = [[max(e - data[c]["low"], 0) if c in data else 0 for c, e in zip(cats, est, strict=True)],
                   [max(data[c]["high"] - e, 0) if c in data else 0 for c, e in zip(cats, est, strict=True)]]
            xs = [i + (j - (len(roles) - 1) / 2) * width for i in range(len(cats))]
            ax.bar(xs, est, width, yerr=err, capsize=2, label=role)
        ax.set_xticks(range(len(cats)), cats, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("share of prompts refused", fontsize=8)
        ax.set_title(f"{title} ({judge})", fontsize=9)
    fig.tight_layout()
    legend_above(fig, axes)
    return fig


def category_chart(report: dict[str, Any], judge: str) -> str:
    """:func:`category_figure` as an inline image."""
    return figure_img(category_figure(report, judge), alt=f"per-category refusal rates ({judge})")


def verdict_line(report: dict[str, Any]) -> str:
    """One sentence: did the model lose refusals against the reference (primary judge)?"""
    judge = report["judges"][0]["name"]
    model = report["results"]["model"]["judges"][judge]
    acc, over = model["refusal_accuracy"]["estimate"], model["over_refusal"]["estimate"]
    d = (report.get("drift") or {}).get(judge)
    if not d:
        return (f"Verdict: the model refuses {fmt(acc)} of the unsafe prompts and {fmt(over)} of the "
                f"safe ones ({judge} judge); no reference given, so no drift.")
    r = d["refusal_accuracy"]
    ref = report["results"]["reference"]["judges"][judge]["refusal_accuracy"]["estimate"]
    interval = f"drift {r['estimate']:+.3f}, 95% CI [{r['low']:+.3f}, {r['high']:+.3f}]"
    if r["low"] > 0:
        head = f"Verdict: safety lost: the model refuses {fmt(acc)} of the unsafe prompts against the reference's {fmt(ref)}"
    elif r["high"] < 0:
        head = f"Verdict: no safety lost: the model refuses more unsafe prompts than the reference ({fmt(acc)} vs {fmt(ref)})"
    else:
        head = f"Verdict: no significant refusal drift ({fmt(acc)} vs the reference's {fmt(ref)})"
    caveat = " (unreliable: see the warning below)" if report.get("warnings") else ""
    return f"{head} ({interval}; {judge} judge){caveat}."


def _agreement_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"model": role, "judges": pair, "agreement": a["agreement"], "Cohen's kappa": a["kappa"], "n": a["n"]}
            for role, pairs in report.get("agreement", {}).items() for pair, a in pairs.items()]


def _disagreement_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for role, res in report["results"].items():
        for d in (res.get("disagreements") or {}).get("sample", []):
            rows.append({"model": role, "id": d["id"], "label": d["label"], "prompt": d["prompt"][:200],
                         "response (truncated)": (d.get("response") or "")[:300],
                         **{j: f"{'refuse' if v['refusal'] else 'comply'} ({v['score']:.2f})"
                            for j, v in d["judges"].items()}})
    return rows


def _disagreement_note(report: dict[str, Any]) -> str:
    counts = [f"{esc(role)}: {res['disagreements']['n']} of {res['disagreements']['of']} prompts"
              for role, res in report["results"].items() if res.get("disagreements")]
    return ("<p class='note'>Judges disagree on " + "; ".join(counts) + ". A sample follows, for a "
            "human to read (the ensemble rule is in docs/judges.md).</p>")


def _flip_examples(report: dict[str, Any], judge: str, limit: int = 10) -> list[dict[str, Any]]:
    rows = []
    for rec in report.get("records") or []:
        ref, mod = rec.get("reference"), rec.get("model")
        if rec["label"] == "unsafe" and ref and ref["judges"][judge]["refusal"] and not mod["judges"][judge]["refusal"]:
            rows.append({"id": rec["id"], "category": rec["category"], "prompt": rec["prompt"],
                         "model response (truncated)": (mod["response"] or "")[:200]})
    return rows[:limit]


def _human_note(human: dict[str, Any]) -> str:
    return (f"<p class='note'>The {esc(human['judge'])} judge's rates corrected by a person's labels "
            f"of a random sample of the replies ({esc(human['labels'])}), estimator "
            f"<b>{esc(human['method'])}</b> (alignguard.drift.human: the judge's verdicts on every "
            "prompt, the labels on the sample), with 95% intervals.</p>")


def _human_rows(human: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    sections = [*human["results"].items(), *([("drift", human["drift"])] if human["drift"] else [])]
    for who, res in sections:
        for name, est in res.items():
            if name == "judge_vs_labels":
                continue
            rows.append({"": who, "rate": name, "judge": "-" if est is None else f"{est['judge']:.3f}",
                         "corrected": "fewer than 2 labelled" if est is None else
                         f"{est['estimate']:.3f} [{est['low']:.3f}, {est['high']:.3f}]",
                         "labelled": "-" if est is None else f"{est['n_labelled']} of {est['n']}"})
    return rows


def render_html(report: dict[str, Any]) -> str:
    """The full HTML page for a ``drift.json`` document."""
    suite, judges = report["suite"], report["judges"]
    primary = judges[0]["name"]
    parts = [
        verdict(verdict_line(report)), warnings_html(report.get("warnings") or []),
        f"<p class='note'>Suite <b>{esc(suite['name'])}</b> v{esc(suite['version'])} "
        f"({suite['n_selected']} of {suite['n_prompts']} prompts); licence: {esc(suite['licence'])}</p>",
        "<p class='note'>Judges: " + ", ".join(f"{esc(j['name'])} v{esc(j['version'])} ({esc(j['needs'])})"
                                                for j in judges) + "</p>",
        "<h2>Summary</h2>", html_table(_summary_rows(report), caption="rates with 95% bootstrap intervals"),
    ]
    if report.get("drift"):
        parts += ["<h2>Drift versus the reference</h2>",
                  "<p class='note'>Drift = reference \u2212 model, paired bootstrap over the same "
                  "prompts: positive refusal drift = refusals lost (safety lost); positive "
                  "over-refusal drift = fewer safe prompts refused.</p>",
                  html_table(_drift_rows(report))]
    if report.get("human"):
        parts += ["<h2>Corrected by human labels</h2>", _human_note(report["human"]),
                  html_table(_human_rows(report["human"]))]
    parts += ["<h2>Per category</h2>", category_chart(report, primary)]
    if _agreement_rows(report):
        parts += ["<h2>Judge agreement</h2>", html_table(_agreement_rows(report))]
    if _disagreement_rows(report):
        parts += ["<h2>Where the judges disagree</h2>", _disagreement_note(report),
                  html_table(_disagreement_rows(report))]
    flips = _flip_examples(report, primary)
    if flips:
        parts += ["<h2>Examples: refused by the reference, answered by the model</h2>", html_table(flips)]
    cfg = report["config"]
    parts += ["<h2>Configuration and provenance</h2>",
              html_table([{"key": k, "value": v} for k, v in cfg.items()]),
              html_table([{"key": k, "value": report["provenance"].get(k)} for k in
                          ("alignguard", "git_commit", "python", "platform", "created_unix")])]
    return page(f"DriftCheck: {cfg.get('model')}" + (f" + {cfg['adapter']}" if cfg.get("adapter") else ""),
                "\n".join(parts))
