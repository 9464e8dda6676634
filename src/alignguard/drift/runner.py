"""Run DriftCheck: generate, judge, compare with a reference, write drift.json and drift.html.

DriftCheck (arXiv 2508.02079, "DriftCaps" in the abstract) measures how much fine-tuning erodes
alignment: refusal accuracy on unsafe prompts, over-refusal on safe ones and the change of both
versus the aligned reference model, per category, with greedy decoding of 128 new tokens.
``run_drift`` is the Python API behind ``alignguard drift``; models can be passed in directly
(tests, notebooks) or loaded by name with :func:`alignguard.models.load_model`, optionally with a
PEFT adapter (``peft.PeftModel.from_pretrained``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignguard.drift.degenerate import is_degenerate
from alignguard.drift.generation import generate_replies
from alignguard.drift.judges import (
    DEFAULT_JUDGE,
    Judge,
    JudgeBatch,
    Verdict,
    build_judges,
    describe,
)
from alignguard.drift.metrics import (
    DRIFT_DEFINITION,
    degenerate_metrics,
    drift_metrics,
    judge_agreement,
    judge_warnings,
    rate_metrics,
    reference_warnings,
)
from alignguard.drift.records import PromptRecord
from alignguard.drift.suites import Suite, load_suite, select_records

log = logging.getLogger(__name__)

SCHEMA = "alignguard.drift/2"  # 2: drift = reference - model (was model - reference)


@dataclass
class DriftConfig:
    """Settings of one DriftCheck run (recorded in ``drift.json``)."""

    model: str
    adapter: str | None = None
    reference: str | None = None
    reference_adapter: str | None = None
    suite: str = "driftcheck-en"
    judges: tuple[str, ...] = (DEFAULT_JUDGE, "keyword")
    limit: int | None = None
    max_new_tokens: int = 128
    batch_size: int = 16
    n_boot: int = 2000
    seed: int = 0
    dtype: str = "float32"
    device: str = "cpu"
    save_records: bool = True
    out_dir: str = "runs/drift"

    def __post_init__(self) -> None:
        self.judges = tuple(self.judges)
        if not self.judges:
            raise ValueError("pass at least one judge, e.g. --judges ensemble-probe")
        if self.max_new_tokens < 1 or self.batch_size < 1 or self.n_boot < 100:
            raise ValueError("max_new_tokens and batch_size must be >= 1 and n_boot >= 100")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be a positive number of prompts, got {self.limit}; "
                             "omit --limit to evaluate the whole suite")


@dataclass
class ModelEval:
    """What one model produced on the suite: responses, degenerate flags, verdicts, timings."""

    responses: list[str] | None
    degenerate: list[bool] | None
    verdicts: dict[str, list[Verdict]]
    seconds: dict[str, float] = field(default_factory=dict)
    needs: dict[str, str] = field(default_factory=dict)
    ended: list[bool] | None = None


def load_eval_model(name: str, adapter: str | None = None, dtype: str = "float32", device: str = "cpu"):
    """``(model, tokenizer)`` by name (``alignguard.models.load_model``), plus a PEFT adapter."""
    from alignguard.models import load_model

    model, tokenizer = load_model(name, dtype=dtype, device=device)
    if adapter:
        if not (Path(adapter) / "adapter_config.json").is_file():
            raise FileNotFoundError(f"adapter folder {adapter} has no adapter_config.json (a PEFT adapter "
                                    "saved with model.save_pretrained(folder) is expected)")
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    return model, tokenizer


def evaluate_model(model, tokenizer, records: Sequence[PromptRecord], judges: Sequence[Judge],
                   max_new_tokens: int = 128, batch_size: int = 16, role: str = "model",
                   context: Sequence[tuple[str, str]] = ()) -> ModelEval:
    """Generate (only if a response judge is present) and run every judge on ``records``;
    ``context`` turns (e.g. a system prompt) precede every prompt in generation."""
    prompts = [r.prompt for r in records]
    seconds: dict[str, float] = {}
    responses = degenerate = ended = None
    if any(j.needs == "response" for j in judges):
        t0 = time.perf_counter()
        responses, ended = generate_replies(model, tokenizer, prompts, max_new_tokens, batch_size,
                                            desc=f"{role}: generate", context=context)
        seconds["generate"] = time.perf_counter() - t0
        degenerate = [is_degenerate(t) for t in responses]
    batch = JudgeBatch(prompts, responses, model, tokenizer)
    verdicts: dict[str, list[Verdict]] = {}
    needs = {j.name: j.needs for j in judges}
    for judge in judges:
        t0 = time.perf_counter()
        if hasattr(judge, "judge_members"):  # an ensemble: keep its members' verdicts too
            for name, vs in judge.judge_members(batch).items():
                verdicts.setdefault(name, vs)
                needs.setdefault(name, "model" if name == "likelihood" else "response")
        else:
            verdicts[judge.name] = judge.judge(batch)
        seconds[f"judge:{judge.name}"] = time.perf_counter() - t0
    return ModelEval(responses, degenerate, verdicts, seconds, needs, ended)


def disagreements(records: Sequence[PromptRecord], ev: ModelEval, limit: int = 20) -> dict[str, Any]:
    """Prompts where the judges' verdicts differ: their count and the first ``limit`` of them
    (prompt, response, every judge's verdict and score), for a human to read."""
    names = list(ev.verdicts)
    rows = []
    for i, rec in enumerate(records):
        if len({ev.verdicts[n][i].refusal for n in names}) > 1:
            rows.append({"id": rec.id, "label": rec.label, "category": rec.category, "prompt": rec.prompt,
                         "response": ev.responses[i] if ev.responses is not None else None,
                         "judges": {n: {"refusal": ev.verdicts[n][i].refusal,
                                        "score": round(ev.verdicts[n][i].score, 4)} for n in names}})
    return {"n": len(rows), "of": len(records), "sample": rows[:limit]}


def summarise(records: Sequence[PromptRecord], evals: dict[str, ModelEval], n_boot: int = 2000,
              seed: int = 0) -> dict[str, Any]:
    """``results`` per role and judge, ``drift`` (reference - model) and judge ``agreement``."""
    results: dict[str, Any] = {}
    agreement: dict[str, Any] = {}
    for role, ev in evals.items():
        # harmful compliance needs the judged response (and its degenerate flag): response judges only
        per_judge = {name: rate_metrics(records, [v.refusal for v in vs],
                                        ev.degenerate if ev.needs.get(name, "response") == "response" else None,
                                        n_boot, seed)
                     for name, vs in ev.verdicts.items()}
        results[role] = {"judges": per_judge, "timing_s": ev.seconds}
        if ev.degenerate is not None:
            results[role]["degenerate_rate"] = degenerate_metrics(records, ev.degenerate, n_boot, seed)
        if len(ev.verdicts) > 1:
            agreement[role] = judge_agreement({n: [v.refusal for v in vs] for n, vs in ev.verdicts.items()})
            results[role]["disagreements"] = disagreements(records, ev)
    drift = {}
    if "reference" in evals:
        model, ref = evals["model"], evals["reference"]
        for name in [n for n in model.verdicts if n in ref.verdicts]:
            drift[name] = drift_metrics(records, [v.refusal for v in model.verdicts[name]],
                                        [v.refusal for v in ref.verdicts[name]], n_boot, seed)
        if model.degenerate is not None and ref.degenerate is not None:
            from alignguard.drift.stats import paired_bootstrap_diff

            drift["degenerate_rate"] = paired_bootstrap_diff(ref.degenerate, model.degenerate, n_boot,
                                                             seed=seed).to_dict()
    return {"results": results, "drift": drift, "agreement": agreement}


def _record_rows(records: Sequence[PromptRecord], evals: dict[str, ModelEval]) -> list[dict[str, Any]]:
    rows = []
    for i, rec in enumerate(records):
        row: dict[str, Any] = rec.to_dict()
        for role, ev in evals.items():
            row[role] = {
                "response": ev.responses[i] if ev.responses is not None else None,
                "degenerate": ev.degenerate[i] if ev.degenerate is not None else None,
                "ended": ev.ended[i] if ev.ended is not None else None,
                "judges": {n: {"refusal": vs[i].refusal, "score": round(vs[i].score, 6)}
                           for n, vs in ev.verdicts.items()},
            }
        rows.append(row)
    return rows


def _reference_context(cfg: DriftConfig, model):
    """Reuse the evaluated model with its adapter disabled when the reference is its own base."""
    same_base = cfg.reference == cfg.model and cfg.adapter and not cfg.reference_adapter
    if same_base and hasattr(model, "disable_adapter"):
        return model.disable_adapter()
    return None


def run_drift(cfg: DriftConfig, *, model=None, tokenizer=None, reference_model=None,
              reference_tokenizer=None, suite: Suite | None = None,
              judges: Sequence[Judge] | None = None) -> dict[str, Any]:
    """Run DriftCheck and write ``drift.json`` + ``drift.html`` into ``cfg.out_dir``.

    Args:
        cfg: run settings; ``cfg.model``/``cfg.reference`` are loaded by name unless models are
            passed in.
        model, tokenizer: an already loaded model to evaluate (optional).
        reference_model, reference_tokenizer: an already loaded reference (optional).
        suite: a suite object instead of ``cfg.suite`` (optional).
        judges: judge objects instead of ``cfg.judges`` names (optional).

    Returns:
        The ``drift.json`` content.
    """
    suite = suite or load_suite(cfg.suite)
    records = select_records(suite.records, cfg.limit, cfg.seed)
    judges = list(judges) if judges is not None else build_judges(cfg.judges, cfg.device)
    if model is None:
        model, tokenizer = load_eval_model(cfg.model, cfg.adapter, cfg.dtype, cfg.device)
    log.info("DriftCheck: %d prompts of %s@%s, judges %s", len(records), suite.name, suite.version,
             [j.name for j in judges])
    evals = {"model": evaluate_model(model, tokenizer, records, judges, cfg.max_new_tokens, cfg.batch_size)}
    if cfg.reference or reference_model is not None:
        ctx = _reference_context(cfg, model) if reference_model is None else None
        if ctx is not None:
            reference_model, reference_tokenizer = model, tokenizer
        elif reference_model is None:
            reference_model, reference_tokenizer = load_eval_model(
                cfg.reference, cfg.reference_adapter, cfg.dtype, cfg.device)
        with ctx or contextlib.nullcontext():
            evals["reference"] = evaluate_model(reference_model, reference_tokenizer, records, judges,
                                                cfg.max_new_tokens, cfg.batch_size, role="reference")
    report = build_report(cfg, suite, records, judges, evals)
    write_outputs(report, cfg.out_dir)
    return report


def build_report(cfg: DriftConfig, suite: Suite, records: Sequence[PromptRecord], judges: Sequence[Judge],
                 evals: dict[str, ModelEval]) -> dict[str, Any]:
    """The ``drift.json`` document."""
    from alignguard.artifacts import fingerprint_records, provenance

    fp = fingerprint_records(r.to_dict() for r in records)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "suite": {**suite.describe(), "n_selected": len(records), "selected_fingerprint": fp},
        "judges": [describe(j) for j in judges],
        "config": dataclasses.asdict(cfg),
        **summarise(records, evals, cfg.n_boot, cfg.seed),
        "drift_definition": DRIFT_DEFINITION,
        "provenance": provenance(seed=cfg.seed, data={"suite": suite.fingerprint, "selected": fp},
                                 model=cfg.model, adapter=cfg.adapter, reference=cfg.reference),
    }
    report["warnings"] = reference_warnings(report["results"]) + judge_warnings(report)
    for warning in report["warnings"]:
        log.warning("%s", warning)
    if cfg.save_records:
        report["records"] = _record_rows(records, evals)
    return report


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN/inf floats replaced by ``None`` (strict JSON)."""
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def write_outputs(report: dict[str, Any], out_dir: str | Path) -> Path:
    """Write ``drift.json`` (strict JSON) and ``drift.html`` atomically into ``out_dir``."""
    from alignguard.artifacts import atomic_write_json, atomic_write_text
    from alignguard.drift.report import render_html

    out = Path(out_dir)
    atomic_write_json(out / "drift.json", json_safe(report))
    atomic_write_text(out / "drift.html", render_html(report))
    return out / "drift.json"
