"""DriftCheck judging speed: generation + keyword judge vs the likelihood judge.

Measures prompts per second of (a) greedy generation of ``--max-new-tokens`` tokens (128 by
default, forced with ``min_new_tokens`` so every prompt costs the full budget, as in the paper's
DriftCheck protocol) followed by the keyword judge, and (b) the likelihood judge (one prefill plus
one batched pass over the refusal/compliance openings, no generation), on the model organism and on
SmolLM2-135M-Instruct. With ``--eos-stop`` the generation path also runs with early stopping at
EOS (what ``alignguard drift`` does). Prints one JSON object with the throughputs and ratios.

Usage: python benchmarks/drift_speed.py [--models organism,smollm2] [--n-prompts 32]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch


def _prompts(n: int) -> list[str]:
    from alignguard.drift.suites import load_suite, select_records

    return [r.prompt for r in select_records(load_suite("driftcheck-en").records, n, seed=0)]


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_model(name: str, prompts: list[str], max_new_tokens: int, batch_size: int, eos_stop: bool) -> dict:
    """Throughputs of both judging paths on one model."""
    from alignguard.drift.generation import generate_responses
    from alignguard.drift.judges import JudgeBatch
    from alignguard.drift.judges.keyword import KeywordJudge
    from alignguard.drift.judges.likelihood import LikelihoodJudge
    from alignguard.models import load_model

    model, tok = load_model(name)
    model.eval()
    kw, lik = KeywordJudge(), LikelihoodJudge(batch_size=batch_size)
    # warm-up (first-call allocations, lazy init)
    generate_responses(model, tok, prompts[:2], max_new_tokens=4, batch_size=2)
    lik.judge(JudgeBatch(prompts[:2], model=model, tokenizer=tok))

    def gen_path(min_new: int) -> None:
        responses = generate_responses(model, tok, prompts, max_new_tokens, batch_size, min_new_tokens=min_new)
        kw.judge(JudgeBatch(prompts, responses))

    out: dict = {"n_prompts": len(prompts), "max_new_tokens": max_new_tokens, "batch_size": batch_size}
    t_gen = _timed(lambda: gen_path(max_new_tokens))
    t_lik = _timed(lambda: lik.judge(JudgeBatch(prompts, model=model, tokenizer=tok)))
    out["generate_keyword_prompts_per_s"] = len(prompts) / t_gen
    out["likelihood_prompts_per_s"] = len(prompts) / t_lik
    out["ratio_likelihood_vs_generate"] = t_gen / t_lik
    if eos_stop:
        t_eos = _timed(lambda: gen_path(0))
        out["generate_eos_stop_keyword_prompts_per_s"] = len(prompts) / t_eos
        out["ratio_likelihood_vs_generate_eos_stop"] = t_eos / t_lik
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="organism,smollm2", help="comma-separated model names")
    parser.add_argument("--n-prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--eos-stop", action=argparse.BooleanOptionalAction, default=True,
                        help="also time generation that stops at EOS")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    prompts = _prompts(args.n_prompts)
    results: dict = {"torch_threads": torch.get_num_threads()}
    for name in [m for m in args.models.split(",") if m]:
        try:
            results[name] = bench_model(name, prompts, args.max_new_tokens, args.batch_size, args.eos_stop)
        except FileNotFoundError as exc:  # e.g. the organism checkpoint is not built yet
            results[name] = {"skipped": str(exc)}
    ratios = [v["ratio_likelihood_vs_generate"] for v in results.values() if isinstance(v, dict) and "ratio_likelihood_vs_generate" in v]
    results["goal_10x_met"] = bool(ratios) and min(ratios) >= 10.0
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
