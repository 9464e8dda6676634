"""One cell of the comparison grid, run in its own process: train, measure, evaluate, write.

``python -m alignguard.compare.cell SPEC.json`` reads a :class:`CellSpec` and writes its result
JSON atomically at ``spec.result``; nothing is written there unless the cell finished, so an
interrupted grid reruns exactly the cells without a result. A cell cut short during training
resumes from its run folder's newest checkpoint (exact resume,
:class:`~alignguard.training.runs.RunFolder`; ``resumed_from_step`` in its result); its step time
is read from the run's whole ``log.jsonl``. Running each cell in a fresh
process makes its peak memory its own (``ru_maxrss`` is per process) and keeps one crashed
cell from taking the grid down.

Measured per cell:

* ``step_time_s``: the median over logging intervals of (elapsed seconds / steps), so
  checkpoint writes and the first interval's warm-up do not dominate;
* ``peak_train_mem_mb``: peak memory during training above the memory held before it
  (CUDA: ``torch.cuda.max_memory_allocated`` minus the allocation before; CPU: peak RSS minus
  the RSS after the model loaded), the cost of the method's extra state and passes;
* the evaluator's metrics, normalised to ``refusal``, ``over_refusal``, ``task`` and
  ``degenerate`` (raw metrics kept under ``raw``).
"""

from __future__ import annotations

import json
import logging
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignguard.artifacts import atomic_write_json, provenance

log = logging.getLogger(__name__)


@dataclass
class CellSpec:
    """What one cell runs.

    Attributes:
        scenario: the scenario (its data and its task score).
        method: a method preset, or ``"base"`` for the model without fine-tuning.
        seed: the fine-tuning seed (``None`` for ``"base"``).
        evaluator: ``"organism"`` (the organism's held-out world prompts) or ``"testbed"``
            (the real-model testbed: DriftCheck refusal, over-refusal, the scenario's task).
        eval_limit: cap on prompts per evaluation group.
        train: the resolved :class:`~alignguard.training.config.TrainConfig` as a dict
            (absent for ``"base"``).
        result: where the cell's JSON goes.
        fisher_cache: the grid's shared Fisher folder for this cell's alignment settings
            (loaded when present, filled from this run's estimate when not).
        device: where the model is loaded, trained and evaluated.
        eval_batch_size: prompts per ``generate`` call in the testbed evaluation.
        judges: the testbed evaluation's DriftCheck judges, the first deciding (empty: its
            default).
    """

    scenario: str
    method: str
    seed: int | None
    evaluator: str
    eval_limit: int | None
    result: str
    model: str = "organism"
    train: dict[str, Any] = field(default_factory=dict)
    fisher_cache: str | None = None
    device: str = "cpu"
    eval_batch_size: int = 16
    judges: list[str] = field(default_factory=list)


def _rss_mb() -> float:
    """Current resident memory of this process in MB (Linux ``/proc``; peak RSS elsewhere)."""
    try:
        import os

        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return _peak_rss_mb()


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KB on Linux


def step_time(history: list[dict]) -> float | None:
    """Median seconds per optimizer step over the logged intervals (see module docstring)."""
    rates, prev_step, prev_t = [], 0, 0.0
    for row in history:
        if row["elapsed_s"] < prev_t:  # a resumed run's clock starts again at its checkpoint
            prev_t = 0.0
        steps = row["step"] - prev_step
        if steps > 0:
            rates.append((row["elapsed_s"] - prev_t) / steps)
        prev_step, prev_t = row["step"], row["elapsed_s"]
    return statistics.median(rates) if rates else None


def evaluate(evaluator: str, model, tokenizer, scenario: str, limit: int | None,
             spec: CellSpec | None = None) -> dict:
    """The evaluator's metrics with the four headline names added."""
    if evaluator == "testbed":
        return _testbed_metrics(model, tokenizer, scenario, limit, spec)
    if evaluator != "organism":
        raise ValueError(f"unknown evaluator {evaluator!r}; known: organism, testbed")
    from alignguard.organism.evaluate import evaluate as organism_evaluate

    model.eval()
    raw = organism_evaluate(model, tokenizer, scenario=scenario, limit=limit)
    return {"refusal": raw["refusal_accuracy"], "over_refusal": raw["over_refusal"],
            "task": raw["task_score"], "degenerate": raw["degenerate_rate"], "raw": raw}


def testbed_sizes(limit: int | None) -> tuple[int, int, int | None]:
    """``(n_unsafe, n_safe, n_task)`` of a testbed evaluation capped at ``limit`` unsafe prompts.

    ``None`` or >= 300 is the standard evaluation (300 unsafe, 200 safe, every task item); a
    smaller screening evaluation shrinks the safe prompts (2/3 of ``limit``, even, so half are
    look-alike probes) and the task items (``limit``) with it.
    """
    if limit is None or limit >= 300:
        return (limit or 300), 200, None
    return limit, max(2, 2 * round(limit / 3)), limit


def _testbed_metrics(model, tokenizer, scenario: str, limit: int | None, spec: CellSpec) -> dict:
    """The real-model testbed's evaluation (:func:`alignguard.testbed.evaluate.run_eval`): the
    aligned model is the reference, generated once per grid (its cache is shared)."""
    from alignguard.testbed.evaluate import EvalConfig, run_eval

    grid = Path(spec.result).parents[2]
    n_unsafe, n_safe, n_task = testbed_sizes(limit)
    cfg = EvalConfig(model=spec.model, scenario=scenario, reference=spec.model,
                     output=str(Path(spec.result).with_suffix("")) + "-eval",
                     n_unsafe=n_unsafe, n_safe=n_safe, n_task=n_task,
                     reference_cache=str(grid / "reference-cache"), seed=0,
                     device=spec.device if spec else "cpu",
                     batch_size=spec.eval_batch_size if spec else 16,
                     **({"judges": tuple(spec.judges)} if spec and spec.judges else {}))
    raw = run_eval(cfg, model=model, tokenizer=tokenizer, reference_is_model=spec.method == "base")
    head = raw["headline"]
    tasks = [t["model"]["estimate"] for t in head["task_score"].values()]
    return {"refusal": head["refusal"]["model"]["estimate"],
            "over_refusal": head["over_refusal"]["model"]["estimate"],
            "task": statistics.fmean(tasks),
            "degenerate": head.get("degenerate_rate", {}).get("model", {}).get("estimate", 0.0),
            "raw": {"headline": head, "agreement": raw["agreement"]}}


def run_cell(spec: CellSpec) -> dict:
    """Train (unless ``spec.method == "base"``), evaluate and write ``spec.result``."""
    import torch

    from alignguard.config import from_dict
    from alignguard.models import load_model
    from alignguard.training.config import TrainConfig

    started = time.time()
    cfg = from_dict(TrainConfig, spec.train) if spec.train else None
    if cfg is not None:
        cfg = _with_shared_fisher(cfg, spec.fisher_cache)
    model, tok = load_model(cfg.model if cfg else spec.model, device=cfg.device if cfg else spec.device,
                            **({"dtype": cfg.dtype} if cfg else {}))
    out: dict[str, Any] = {"scenario": spec.scenario, "method": spec.method, "seed": spec.seed}
    if cfg is not None:
        from alignguard.training.loop import train

        cuda = cfg.device.startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2**20 if cuda else _rss_mb()
        result = _train_resuming(train, cfg, model, tok)
        peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else _peak_rss_mb()
        model = result.model
        _share_fisher(Path(cfg.output_dir) / "fisher", spec.fisher_cache)
        history = _read_log(Path(cfg.output_dir) / "log.jsonl") or result.history
        out |= {"step_time_s": step_time(history), "peak_train_mem_mb": peak - before,
                "train_s": round(time.time() - started, 1), "final_log": history[-1],
                "resumed_from_step": result.resumed_from,
                "after_training": result.after_training,
                "config": cfg.resolved()}
    out["metrics"] = evaluate(spec.evaluator, model, tok, spec.scenario, spec.eval_limit, spec)
    out["wall_s"] = round(time.time() - started, 1)
    out["provenance"] = provenance(seed=spec.seed)
    atomic_write_json(Path(spec.result), out)
    return out


def _train_resuming(train, cfg, model, tok):
    """``train`` continuing the cell's run folder; a folder holding another run (a cell of an
    older grid layout) is started again, as the grid owns its ``runs/``."""
    from alignguard.training.runs import RunFolderError

    try:
        return train(cfg, model=model, tokenizer=tok, progress=False)
    except RunFolderError as exc:
        log.warning("%s: starting this cell's training again", exc)
        return train(cfg, model=model, tokenizer=tok, progress=False, overwrite=True)


def _read_log(path: Path) -> list[dict]:
    """The rows of a run's ``log.jsonl`` (all of them, across a resume)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _with_shared_fisher(cfg, cache: str | None):
    """``cfg`` loading the grid's shared Fisher when one was estimated (and none was given),
    unless the cell's run already estimated its own (a resumed run keeps its recorded config)."""
    import dataclasses

    if not cache or cfg.alignment.fisher or not (Path(cache) / "fisher.json").is_file():
        return cfg
    if (Path(cfg.output_dir) / "fisher" / "fisher.json").is_file():
        return cfg
    return dataclasses.replace(cfg, alignment=dataclasses.replace(cfg.alignment, fisher=cache))


def _share_fisher(estimated: Path, cache: str | None) -> None:
    """Copy this run's Fisher estimate to the grid's cache (first writer wins)."""
    import shutil

    from alignguard.artifacts import atomic_directory

    if not cache or Path(cache).exists() or not (estimated / "fisher.json").is_file():
        return
    with atomic_directory(cache) as tmp:
        shutil.copytree(estimated, tmp, dirs_exist_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the cell process: ``python -m alignguard.compare.cell SPEC.json``."""
    from alignguard.models import ignore_known_deprecations

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ignore_known_deprecations()
    args = sys.argv[1:] if argv is None else argv
    raw = json.loads(Path(args[0]).read_text())
    out = run_cell(CellSpec(**raw))
    log.info("cell %s/%s seed %s: refusal %.3f task %.3f", out["scenario"], out["method"],
             out["seed"], out["metrics"]["refusal"], out["metrics"]["task"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
