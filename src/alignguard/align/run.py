"""``alignguard align``: a safety-alignment stage that turns an instruct model into an aligned base.

AlignGuard-LoRA (arXiv 2508.02079) protects the alignment of an *aligned* model. Small open
instruct models such as SmolLM2-135M-Instruct comply with harmful requests out of the box, so
this stage aligns one first:

    DriftCheck (before) -> refusal SFT on project-written data (LoRA or full fine-tuning, the
    project's own :func:`alignguard.training.loop.train`) -> LoRA factors rounded to the adapter's
    storage dtype and saved as a stock PEFT adapter -> merged into the weights (optionally saved
    as a plain Hugging Face folder) -> DriftCheck (after) -> ``build.json`` next to the adapter

The SFT data (:mod:`alignguard.align.data`) pairs harmful requests with refusals and safe
questions with helpful answers; its prompts are disjoint from the DriftCheck suite and not near
duplicates of it, so the before/after numbers are held-out. Outputs in ``--output``:
``data/align.jsonl``, ``sft/`` (the training run: log, checkpoints), ``adapter/`` (the shippable
adapter and its ``build.json``, see :mod:`alignguard.align.build`; LoRA only), ``model/`` (the
merged aligned model, when ``save_merged``), ``drift/`` (``drift.json`` and ``drift.html``:
"reference" = before, "model" = after, with paired bootstrap intervals) and ``align.json``
(the summary). The shipped ``smollm2-aligned`` adapter
(``alignguard/adapters/smollm2_aligned``) is ``adapter/`` of
``alignguard align --config configs/smollm2-align-cpu.yaml``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alignguard.artifacts import atomic_directory, atomic_write_json, provenance
from alignguard.drift.judges import DEFAULT_JUDGE

log = logging.getLogger(__name__)
METHODS = ("lora", "full-ft")
ADAPTER_DTYPES = ("float32", "float16", "bfloat16")


@dataclass
class AlignSettings:
    """Settings of one alignment run (defaults: SmolLM2-135M).

    Attributes:
        model: instruct model to align: "smollm2", a local folder or a .gguf file.
        output: output folder.
        method: "lora" (merged after training) or "full-ft".
        steps, batch_size, grad_accum, lr, max_length: SFT optimisation.
        r, alpha: LoRA rank and alpha (all attention + MLP projections).
        adapter_dtype: storage dtype of the saved adapter (float16 keeps it small; the factors
            are rounded to it before the model is merged and evaluated).
        save_merged: also write the merged model as a plain HF folder (``model/``).
        n_harmful, n_helpful: rows of refusal and helpful SFT data.
        suite: DriftCheck suite for the before/after check.
        judges: DriftCheck judges (the first is the headline one; ``ensemble`` also records its
            members).
        eval_limit: stratified DriftCheck subset size (``None``: the whole suite).
        max_new_tokens: greedy generation budget of the check (the paper uses 128; the keyword
            judge reads the first 160 characters, which ~48 tokens cover).
        eval_batch_size: prompts per generation batch.
        rejected: give the alignment rows ``rejected`` replies (:mod:`alignguard.align.rejected`:
            the model's own compliant answers to the harmful prompts, generated before training;
            over-refusals for the helpful ones), so ``data/align.jsonl`` serves AGL's contrastive
            Fisher and gate. Training uses only prompt/response.
        rejected_max_new_tokens: greedy budget of each generated rejected reply.
        seed: data, LoRA init and subset seed.
        dtype, device: model precision and torch device.
    """

    model: str = "smollm2"
    output: str = "runs/align"
    method: str = "lora"
    steps: int = 150
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 5e-4
    max_length: int = 160
    r: int = 8
    alpha: float = 16.0
    adapter_dtype: str = "float16"
    save_merged: bool = True
    n_harmful: int = 200
    n_helpful: int = 400
    suite: str = "driftcheck-en"
    judges: tuple[str, ...] = (DEFAULT_JUDGE, "keyword")
    eval_limit: int | None = 300
    max_new_tokens: int = 64
    eval_batch_size: int = 16
    rejected: bool = True
    rejected_max_new_tokens: int = 64
    seed: int = 0
    dtype: str = "float32"
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)} for alignment, got {self.method!r}")
        if self.eval_limit is not None and self.eval_limit < 1:
            raise ValueError(f"eval_limit must be >= 1 (or None for the whole suite), got {self.eval_limit}")
        if min(self.steps, self.batch_size, self.max_new_tokens, self.eval_batch_size,
               self.rejected_max_new_tokens) < 1:
            raise ValueError("steps, batch_size, max_new_tokens, eval_batch_size and "
                             "rejected_max_new_tokens must be >= 1")
        if self.adapter_dtype not in ADAPTER_DTYPES:
            raise ValueError(f"adapter_dtype must be one of {sorted(ADAPTER_DTYPES)}, "
                             f"got {self.adapter_dtype!r}")
        self.judges = tuple(self.judges)
        if not self.judges:
            raise ValueError("judges must name at least one judge, e.g. ensemble")


def _train_config(s: AlignSettings, data_path: Path):
    from alignguard.targets import LoraSettings
    from alignguard.training.config import TrainConfig

    return TrainConfig(
        model=s.model, data=str(data_path), output_dir=str(Path(s.output) / "sft"), method=s.method,
        steps=s.steps, batch_size=s.batch_size, grad_accum=s.grad_accum, lr=s.lr,
        warmup_steps=max(1, s.steps // 10), max_length=s.max_length, seed=s.seed,
        log_every=max(1, s.steps // 20), save_every=max(25, s.steps // 4), dtype=s.dtype,
        device=s.device, lora=LoraSettings(r=s.r, alpha=s.alpha, target_modules="all"),
    )


def _rates(report: dict[str, Any], role: str, judge_name: str) -> dict[str, float]:
    res = report["results"][role]
    judge = res["judges"][judge_name]
    out = {"refusal_accuracy": judge["refusal_accuracy"]["estimate"],
           "over_refusal": judge["over_refusal"]["estimate"]}
    if "harmful_compliance" in judge:
        out["harmful_compliance"] = judge["harmful_compliance"]["estimate"]
    if "degenerate_rate" in res:
        out["degenerate_rate"] = res["degenerate_rate"]["all"]["estimate"]
    return out


def save_merged(model, tokenizer, folder: Path, settings: AlignSettings) -> Path:
    """Write the aligned model as a plain HF folder (safetensors + tokenizer), atomically."""
    from alignguard.models import drop_gguf_marker

    drop_gguf_marker(model)
    with atomic_directory(folder) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / "alignguard_align.json", asdict(settings))
        atomic_write_json(tmp / "provenance.json", provenance(seed=settings.seed, command="align",
                                                              base_model=settings.model))
    return folder


def evaluate_cached(path: Path, model, tokenizer, records, judges, s: AlignSettings):
    """DriftCheck generations of the base model, reused from ``path`` when the inputs match.

    The base model's responses depend only on the model, the selected prompts and the decoding
    budget, so a re-run (e.g. after an interrupted SFT) does not regenerate them; the judges are
    re-applied to the saved responses.
    """
    from alignguard.artifacts import fingerprint_records
    from alignguard.drift.judges import JudgeBatch
    from alignguard.drift.runner import ModelEval, evaluate_model

    key = {"model": s.model, "dtype": s.dtype, "max_new_tokens": s.max_new_tokens,
           "eval_batch_size": s.eval_batch_size,
           "records": fingerprint_records(r.to_dict() for r in records)}
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            log.info("reusing the base model's DriftCheck responses from %s", path)
            batch = JudgeBatch([r.prompt for r in records], saved["responses"], model, tokenizer)
            return ModelEval(saved["responses"], saved["degenerate"],
                             {j.name: j.judge(batch) for j in judges}, saved["seconds"])
    ev = evaluate_model(model, tokenizer, records, judges, s.max_new_tokens, s.eval_batch_size,
                        role="before")
    atomic_write_json(path, {"key": key, "responses": ev.responses, "degenerate": ev.degenerate,
                             "seconds": ev.seconds})
    return ev


_EVAL_ONLY = ("eval_limit", "max_new_tokens", "eval_batch_size", "output", "device", "judges",
              "suite", "save_merged", "rejected", "rejected_max_new_tokens")


def check_output(out: Path, s: AlignSettings) -> None:
    """Refuse to reuse an output folder whose SFT run was made with other settings.

    A re-run resumes the SFT from its checkpoints, so changed data or optimisation settings
    would silently keep the old model. Evaluation-only settings may change.

    Raises:
        ValueError: ``out/align_settings.json`` differs in a training setting.
    """
    path = out / "align_settings.json"
    new = {k: v for k, v in asdict(s).items() if k not in _EVAL_ONLY}
    if path.is_file():
        old = json.loads(path.read_text())
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if diff:
            raise ValueError(f"{out} holds an alignment run made with different settings ({diff}); "
                             "pass a new --output or delete that folder")
    atomic_write_json(path, new)


def align(settings: AlignSettings, *, model=None, tokenizer=None, progress: bool = True) -> dict[str, Any]:
    """Run the alignment stage; returns the ``align.json`` summary (also written to disk).

    Args:
        settings: what to align and how.
        model, tokenizer: an already loaded model (tests, notebooks); loaded by name otherwise.
        progress: show progress bars.
    """
    from alignguard.align.data import alignment_examples
    from alignguard.data import write_examples
    from alignguard.drift.judges import get_judge
    from alignguard.drift.runner import evaluate_model
    from alignguard.drift.suites import load_suite, select_records
    from alignguard.training.loop import train

    s, out, t0 = settings, Path(settings.output), time.perf_counter()
    judges = [get_judge(name) for name in s.judges]  # unknown names fail before a model loads
    check_output(out, s)
    rows = alignment_examples(s.n_harmful, s.n_helpful, s.seed)
    data_path = out / "data" / "align.jsonl"
    if not s.rejected:
        write_examples(data_path, rows)
    if model is None or tokenizer is None:
        from alignguard.models import load_model

        model, tokenizer = load_model(s.model, dtype=s.dtype, device=s.device)
    rejected = None
    if s.rejected:  # at the pre-alignment weights, before any training
        from alignguard.align.rejected import rejected_cached

        _, rejected = rejected_cached(data_path.parent, rows, model, tokenizer, model_id=s.model,
                                      seed=s.seed, max_new_tokens=s.rejected_max_new_tokens,
                                      batch_size=s.eval_batch_size)
    suite = load_suite(s.suite)
    records = select_records(suite.records, s.eval_limit, s.seed)
    log.info("DriftCheck before alignment: %d prompts", len(records))
    before = evaluate_cached(out / "before.json", model, tokenizer, records, judges, s)
    t_train = time.perf_counter()
    result = train(_train_config(s, data_path), model=model, tokenizer=tokenizer, progress=progress)
    seconds = {"train": time.perf_counter() - t_train}
    aligned, adapter_dir = _finish(result.model, tokenizer, out, s)
    log.info("DriftCheck after alignment")
    t_eval = time.perf_counter()
    after = evaluate_model(aligned, tokenizer, records, judges, s.max_new_tokens, s.eval_batch_size,
                           role="after")
    seconds["eval_after"] = time.perf_counter() - t_eval
    report = _report(s, out, suite, records, judges, before, after)
    seconds["total"] = time.perf_counter() - t0
    summary = _summary(s, out, data_path, adapter_dir, rows, rejected, records, report, seconds)
    if adapter_dir is not None:
        summary["build"] = write_build(adapter_dir, summary, report)
    atomic_write_json(out / "align.json", summary)
    return summary


def _summary(s: AlignSettings, out: Path, data_path: Path, adapter_dir, rows, rejected,
             records, report: dict, seconds: dict) -> dict[str, Any]:
    """The ``align.json`` summary: settings, paths, data fingerprint, refusal before and after
    by the first judge, the change with its interval, timings and provenance."""
    from alignguard.align.build import change_of
    from alignguard.data import fingerprint_examples

    judge = s.judges[0]
    return {
        "settings": asdict(s), "model_dir": str(out / "model") if s.save_merged else None,
        "adapter_dir": str(adapter_dir) if adapter_dir else None, "data": str(data_path),
        "data_fingerprint": fingerprint_examples(rows), "rejected": rejected, "n_prompts": len(records),
        "judge": judge, "before": _rates(report, "reference", judge),
        "after": _rates(report, "model", judge),
        "change_refusal_accuracy": change_of(report["drift"][judge]["refusal_accuracy"]),
        "final_task_loss": _last_logged(out / "sft" / "log.jsonl", "task_loss"),
        "seconds": seconds, "provenance": provenance(seed=s.seed, command="align", model=s.model),
    }


def _finish(trained, tokenizer, out: Path, s: AlignSettings):
    """``(merged model, adapter folder or None)``: round and save the adapter (LoRA), merge,
    and save the merged folder when asked."""
    from alignguard.align.build import round_lora, save_adapter

    adapter_dir = None
    if s.method == "lora":
        round_lora(trained, s.adapter_dtype)
        adapter_dir = save_adapter(trained, out / "adapter", s.adapter_dtype, s.model)
        aligned = trained.merge_and_unload()
    else:
        aligned = trained
    aligned.eval()
    if s.save_merged:
        save_merged(aligned, tokenizer, out / "model", s)
    return aligned, adapter_dir


def _report(s: AlignSettings, out: Path, suite, records, judges, before, after) -> dict[str, Any]:
    """The DriftCheck report ("reference" = before, "model" = after), written to ``out/drift``."""
    from alignguard.drift.runner import DriftConfig, build_report, write_outputs

    model_name = str(out / "model") if s.save_merged else f"{s.model} + {out / 'adapter'}"
    dcfg = DriftConfig(model=model_name, reference=s.model, suite=s.suite, judges=s.judges,
                       limit=s.eval_limit, max_new_tokens=s.max_new_tokens,
                       batch_size=s.eval_batch_size, seed=s.seed, dtype=s.dtype, device=s.device,
                       out_dir=str(out / "drift"))
    report = build_report(dcfg, suite, records, judges, {"model": after, "reference": before})
    write_outputs(report, out / "drift")
    return report


def write_build(adapter_dir: Path, summary: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """Write ``build.json`` next to the adapter (see :mod:`alignguard.align.build`)."""
    from alignguard.align.build import adapter_files, build_metrics

    s = summary["settings"]
    judges = list(report["results"]["model"]["judges"])
    n_unsafe = report["results"]["model"]["judges"][judges[0]]["refusal_accuracy"]["n"]
    build = {
        "schema": "alignguard.align.build/1",
        "base_model": s["model"], "settings": s, "seed": s["seed"],
        "data": {"version": _data_version(), "fingerprint": summary["data_fingerprint"],
                 "n_harmful": s["n_harmful"], "n_helpful": s["n_helpful"]},
        "evaluation": {"suite": report["suite"], "n_prompts": summary["n_prompts"],
                       "headline_judge": summary["judge"],
                       "n_unsafe": n_unsafe,
                       "max_new_tokens": s["max_new_tokens"], "greedy": True},
        "metrics": build_metrics(report, judges),
        "adapter": adapter_files(adapter_dir) | {"dtype": s["adapter_dtype"], "r": s["r"],
                                                 "alpha": s["alpha"]},
        "seconds": summary["seconds"], "final_task_loss": summary["final_task_loss"],
        "provenance": summary["provenance"],
    }
    atomic_write_json(adapter_dir / "build.json", build)
    return build


def _data_version() -> str:
    from alignguard.align.data import DATA_VERSION

    return DATA_VERSION


def _last_logged(log_file: Path, key: str) -> float | None:
    """``key`` of the last row of a training log (a resumed run logs no new rows)."""
    if not log_file.is_file():
        return None
    rows = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    return rows[-1].get(key) if rows else None


def format_summary(summary: dict[str, Any]) -> str:
    """A small before/after table."""
    keys = ("refusal_accuracy", "over_refusal", "harmful_compliance", "degenerate_rate")
    lines = [f"{'':22s}{'before':>9s}{'after':>9s}"]
    for k in keys:
        if k in summary["before"] and k in summary["after"]:
            lines.append(f"{k:22s}{summary['before'][k]:9.3f}{summary['after'][k]:9.3f}")
    ch = summary["change_refusal_accuracy"]
    lines.append(f"refusal accuracy change {ch['estimate']:+.3f} [{ch['low']:+.3f}, {ch['high']:+.3f}] "
                 f"on {summary['n_prompts']} DriftCheck prompts ({summary['judge']} judge)")
    if summary.get("adapter_dir"):
        size = summary.get("build", {}).get("adapter", {}).get("bytes", 0)
        lines.append(f"adapter: {summary['adapter_dir']} ({size / 1e6:.1f} MB, build.json beside it)")
    if summary.get("model_dir"):
        lines.append(f"merged model: {summary['model_dir']}")
    return "\n".join(lines)
