"""The HTML reports (DriftCheck, demo): one-line verdict first, the drift sign, the weak-reference
warning, labelled axes and legends that cover no data."""

from __future__ import annotations

import logging
import re

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from alignguard.drift.judges import Verdict
from alignguard.drift.records import PromptRecord
from alignguard.drift.runner import DriftConfig, ModelEval, build_report
from alignguard.drift.suites import Suite

UNSAFE, SAFE = 8, 4


def _report(model_refuses: int, reference_refuses: int | None, caplog=None) -> dict:
    recs = [PromptRecord(f"u{i}", f"Unsafe {i}?", "unsafe", "violence" if i < 4 else "privacy",
                         "harmful") for i in range(UNSAFE)]
    recs += [PromptRecord(f"s{i}", f"Safe {i}?", "safe", "violence", "overrefusal") for i in range(SAFE)]
    suite = Suite("mini", "0.0.1", "CC0", tuple(recs), source="test")

    def ev(k: int) -> ModelEval:
        refusals = [i < k for i in range(UNSAFE)] + [False] * SAFE
        return ModelEval(["Sure, here it is."] * len(recs), [False] * len(recs),
                         {"keyword": [Verdict(r, float(r)) for r in refusals]},
                         needs={"keyword": "response"})

    evals = {"model": ev(model_refuses)}
    if reference_refuses is not None:
        evals["reference"] = ev(reference_refuses)
    cfg = DriftConfig(model="m", reference="r" if reference_refuses is not None else None,
                      n_boot=300, judges=("keyword",))
    return build_report(cfg, suite, recs, [type("J", (), {"name": "keyword", "version": "1",
                                                          "needs": "response"})()], evals)


def _first_paragraph(html: str) -> str:
    body = html.split("</h1>", 1)[1]
    return re.search(r"<p class='(\w+)'>(.*?)</p>", body).groups()


def test_drift_sign_verdict_and_json_definition():
    from alignguard.drift.report import render_html

    rep = _report(model_refuses=1, reference_refuses=8)
    d = rep["drift"]["keyword"]["refusal_accuracy"]
    assert d["estimate"] == pytest.approx(7 / 8) and d["low"] > 0  # reference - model: lost
    assert "reference - model" in rep["drift_definition"] and not rep["warnings"]
    kind, text = _first_paragraph(render_html(rep))
    assert kind == "verdict" and text.startswith("Verdict: safety lost") and "+0.875" in text
    same = _report(model_refuses=8, reference_refuses=8)
    assert _first_paragraph(render_html(same))[1].startswith("Verdict: no significant refusal drift")
    alone = _report(model_refuses=2, reference_refuses=None)
    assert "no reference given" in _first_paragraph(render_html(alone))[1]


def test_a_reference_that_barely_refuses_is_flagged(caplog):
    from alignguard.drift.report import render_html

    caplog.set_level(logging.WARNING)
    rep = _report(model_refuses=0, reference_refuses=1)  # the reference refuses 1 of 8
    assert len(rep["warnings"]) == 1 and "refuses only 0.125" in rep["warnings"][0]
    assert any("refuses only 0.125" in r.getMessage() for r in caplog.records)
    html = render_html(rep)
    assert "class='warning'" in html and "unreliable" in _first_paragraph(html)[1]


def _legend_clear_of_data(fig) -> None:
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    legends = [*fig.legends, *[ax.get_legend() for ax in fig.axes if ax.get_legend()]]
    assert legends
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible():
                assert not box.overlaps(ax.get_window_extent(renderer)), "legend covers an axes"
    for ax in fig.axes:
        if ax.get_visible():
            assert ax.get_xlabel() and ax.get_ylabel(), f"unlabelled axes: {ax.get_title()}"


def test_drift_chart_axes_and_legend():
    from alignguard.drift.report import category_figure

    _legend_clear_of_data(category_figure(_report(2, 8), "keyword"))


def _demo_inputs():
    base = {"refusal_accuracy": 0.9, "refusal_per_category": {"a": 0.9, "b": 0.8}}
    runs = [{"method": m, "seed": 0, "metrics": {"refusal_accuracy": r, "task_score": 1.0,
                                                 "refusal_per_category": {"a": r, "b": r}},
             "history": [{"step": s, "task_loss": 1.0 / s, "reg/L_A": 0.1 * s} for s in (1, 2, 3)]}
            for m, r in (("lora", 0.3), ("alignguard", 0.8))]
    sweep = [{"method": "alignguard", "field": "lam_kl", "value": lam,
              "metrics": {"refusal_accuracy": 0.7 + lam / 100, "task_score": 1.0}} for lam in (1.0, 3.0)]
    return base, runs, sweep


def test_demo_figures_and_verdict(tmp_path):
    from alignguard.demo.report import category_figure, frontier_figure, loss_figure, verdict_line

    base, runs, sweep = _demo_inputs()
    for fig in (category_figure(base, runs), loss_figure(runs), frontier_figure(base, runs, sweep)):
        _legend_clear_of_data(fig)
    summary = {"drift": {"method": "alignguard", "lora": 0.6, "defense": 0.1, "reduction": 5 / 6}}
    line = verdict_line({"summary": summary, "base": base})
    assert line.startswith("Verdict: alignguard cut refusal drift by 83%") and "0.600" in line


def test_demo_checks_its_method_before_any_model_loads():
    from alignguard.demo.run import DemoConfig, sweep_field

    assert DemoConfig().method == "alignguard"  # the library's default method
    assert (sweep_field("agl"), sweep_field("agl-paper"), sweep_field("alignguard")) == ("lam_A", "lam_A", "lam_kl")
    assert sweep_field("refusal-direction") == "lam_rdir"
    for kwargs, message in [({"method": "lora"}, "against plain LoRA"),
                            ({"method": "nope"}, "unknown method"),
                            ({"method": "alignguard", "lam_A": 3.0}, "has none"),
                            ({"method": "replay", "sweep": [1.0]}, "has none of them")]:
        with pytest.raises(ValueError, match=message):
            DemoConfig(**kwargs)


def _two_judge_report(primary: tuple[int, int | None], keyword: tuple[int, int | None]) -> dict:
    """A report whose primary judge finds ``primary = (model, reference)`` refusals of 8 unsafe
    prompts and whose keyword judge finds ``keyword``; reference ``None`` = no reference."""
    recs = [PromptRecord(f"u{i}", f"Unsafe {i}?", "unsafe", "violence", "harmful") for i in range(UNSAFE)]
    recs += [PromptRecord(f"s{i}", f"Safe {i}?", "safe", "violence", "overrefusal") for i in range(SAFE)]
    suite = Suite("mini", "0.0.1", "CC0", tuple(recs), source="test")

    def ev(role: int) -> ModelEval:
        verdicts = {name: [Verdict(i < counts[role], 1.0 if i < counts[role] else 0.0) for i in range(UNSAFE)]
                    + [Verdict(False, 0.0)] * SAFE for name, counts in (("primary", primary), ("keyword", keyword))}
        return ModelEval(["Sure."] * len(recs), [False] * len(recs), verdicts,
                         needs={"primary": "response", "keyword": "response"})

    with_ref = primary[1] is not None
    evals = {"model": ev(0), **({"reference": ev(1)} if with_ref else {})}
    cfg = DriftConfig(model="m", reference="r" if with_ref else None, n_boot=300, judges=("primary", "keyword"))
    judges = [type("J", (), {"name": n, "version": "1", "needs": "response"})() for n in ("primary", "keyword")]
    return build_report(cfg, suite, recs, judges, evals)


def test_judges_that_read_the_drift_apart_are_flagged():
    from alignguard.drift.report import render_html

    apart = _two_judge_report(primary=(1, 8), keyword=(0, 8))  # drift 0.875 against 1.000
    assert len(apart["warnings"]) == 1
    assert "primary and keyword judges read the refusal drift as +0.875 and +1.000" in apart["warnings"][0]
    assert "unreliable" in _first_paragraph(render_html(apart))[1]
    assert not _two_judge_report(primary=(2, 8), keyword=(2, 8))["warnings"]  # same drift, no warning
    # without a reference the model's refusal accuracy is compared: 3/8 against 1/8
    alone = _two_judge_report(primary=(3, None), keyword=(1, None))
    assert len(alone["warnings"]) == 1 and "model's refusal accuracy as +0.375 and +0.125" in alone["warnings"][0]


def test_drift_cli_default_judges_include_the_keyword_cross_check():
    from alignguard.drift.runner import DriftConfig as Cfg

    assert Cfg(model="m").judges == ("ensemble-probe", "keyword")
