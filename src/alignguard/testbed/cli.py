"""``alignguard testbed prepare|eval``: write scenario data, evaluate a model on a scenario."""

from __future__ import annotations

import json
from pathlib import Path

from alignguard.drift.judges import DEFAULT_JUDGE


def prepare_command(scenario: str, output: str, base_model: str | None = None,
                    max_new_tokens: int = 96, batch_size: int = 8, dtype: str = "float32",
                    device: str = "cpu") -> int:
    """Write a testbed scenario's training rows (train.jsonl), held-out items and manifest.

    Args:
        scenario: benign-similar, poisoned, identity-shift or control.
        output: run folder: train.jsonl (for `alignguard train --data`), eval.jsonl (held-out task
            items), manifest.json; for poisoned also the cached compliant answers.
        base_model: the pre-alignment model whose own answers make the poisoned rows compliant
            (e.g. smollm2); needed for poisoned only.
        max_new_tokens: greedy budget of each compliant answer (poisoned).
        batch_size: prompts per generate call (poisoned).
        dtype: model dtype (poisoned).
        device: torch device (poisoned).
    """
    from alignguard.artifacts import atomic_write_json, atomic_write_text, provenance
    from alignguard.data import fingerprint_examples, write_examples
    from alignguard.testbed.scenarios import build, check_name, n_poison

    check_name(scenario)
    if scenario == "poisoned" and not base_model:
        raise ValueError("--scenario poisoned needs --base-model (the pre-alignment model, e.g. "
                         "smollm2) to generate the compliant answers")
    out = Path(output)
    if out.is_file():
        raise FileExistsError(f"--output {output} is a file; pass a folder")
    compliance, meta = None, {}
    if scenario == "poisoned":
        from alignguard.drift.runner import load_eval_model
        from alignguard.testbed.compliance import generate_compliance
        from alignguard.testbed.scenarios import N_SIMILAR, N_TASK_TRAIN

        model, tokenizer = load_eval_model(base_model, None, dtype, device)
        compliance = generate_compliance(model, tokenizer, n_poison(N_TASK_TRAIN + N_SIMILAR),
                                         model_id=base_model, cache_dir=out,
                                         max_new_tokens=max_new_tokens, batch_size=batch_size)
        meta = json.loads((out / "compliance.json").read_text())
    sc = build(scenario, compliance)
    write_examples(out / "train.jsonl", sc.train)
    items = [{"task": t, "prompt": i.prompt, "answer": i.answer} for t, v in sc.eval_items.items() for i in v]
    atomic_write_text(out / "eval.jsonl", "".join(json.dumps(r) + "\n" for r in items))
    atomic_write_json(out / "manifest.json", {
        "scenario": sc.describe(), "base_model": base_model, "compliance": meta,
        "provenance": provenance(data={"train": fingerprint_examples(sc.train)})})
    print(f"{scenario} ({sc.version}): {len(sc.train)} training rows -> {out / 'train.jsonl'}; "
          f"held-out items {sc.describe()['n_eval']} -> {out / 'eval.jsonl'}")
    return 0


def eval_command(model: str, scenario: str, reference: str, output: str, adapter: str | None = None,
                 reference_adapter: str | None = None, n_unsafe: int = 300, n_safe: int = 200,
                 n_task: int | None = None, max_new_tokens: int = 48, task_max_new_tokens: int = 32,
                 batch_size: int = 16, judges: list[str] | None = None, likelihood: bool = True,
                 system_prompt: bool = True,
                 reference_cache: str | None = None, suite: str = "driftcheck-en",
                 n_boot: int = 2000, seed: int = 0,
                 dtype: str = "float32", device: str = "cpu") -> int:
    """Evaluate a model on a testbed scenario against a reference: refusal drift, over-refusal,
    task score, degenerate rate, judge agreement (results.json, summary.md).

    Args:
        model: model to evaluate (smollm2, smollm2-aligned, a folder or a .gguf).
        scenario: benign-similar, poisoned, identity-shift or control.
        reference: reference model (usually the aligned model before fine-tuning).
        output: output folder.
        adapter: PEFT adapter folder on top of --model (e.g. RUN/adapter).
        reference_adapter: PEFT adapter folder on top of --reference.
        n_unsafe: unsafe DriftCheck prompts, stratified by category (standard: >= 300).
        n_safe: safe prompts, half ordinary and half look-alike probes.
        n_task: held-out items per task (default: all, 300).
        max_new_tokens: greedy budget per DriftCheck prompt.
        task_max_new_tokens: greedy budget per task item.
        batch_size: prompts per generate call.
        judges: comma-separated judges, the first decides (default ensemble-probe,keyword).
        likelihood: let the ensemble use its likelihood member.
        system_prompt: generate under the scenario's system prompt (identity-shift: the AOA prompt);
            --no-system-prompt evaluates plain prompts.
        reference_cache: folder caching the reference's generations (default OUTPUT/reference-cache;
            share one folder across evaluations against the same reference).
        suite: DriftCheck suite the prompts are drawn from (a name or a JSONL file of records).
        n_boot: bootstrap resamples.
        seed: seed of the prompt selection and the bootstrap.
        dtype: model dtype.
        device: torch device.
    """
    from alignguard.testbed.evaluate import EvalConfig, run_eval

    cfg = EvalConfig(model=model, scenario=scenario, reference=reference, output=output, adapter=adapter,
                     reference_adapter=reference_adapter, n_unsafe=n_unsafe, n_safe=n_safe, n_task=n_task,
                     max_new_tokens=max_new_tokens, task_max_new_tokens=task_max_new_tokens,
                     batch_size=batch_size, judges=tuple(judges or (DEFAULT_JUDGE, "keyword")),
                     likelihood=likelihood, system_prompt=system_prompt,
                     reference_cache=reference_cache, suite=suite, n_boot=n_boot, seed=seed,
                     dtype=dtype, device=device)
    results = run_eval(cfg)
    print((Path(output) / "summary.md").read_text(), end="")
    print(f"wrote {Path(output) / 'results.json'}" + (" (reference from cache)" if results["reference_cached"] else ""))
    return 0
