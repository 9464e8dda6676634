"""``scripts/screen_rows.py``: rows and pooled seed summaries from a grid's stored cells."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import load_script


@pytest.fixture(scope="module")
def screen_rows():
    return load_script("screen_rows")


def _write_cell(grid: Path, method: str, seed: int | None, refuse_unsafe: int, refuse_safe: int,
                correct: int, scenario: str = "sc", persona: int = 0) -> None:
    """A cell JSON and its records: 10 unsafe and 10 safe prompts (the aligned reference refuses
    all unsafe and 2 safe ones) and 10 task items, of which the first ``correct`` are right; the
    first ``persona`` unsafe replies of the model carry identity-shift's persona."""
    cells = grid / "cells" / scenario
    name = "base" if method == "base" else f"{method}-seed{seed}"
    (cells / f"{name}-eval").mkdir(parents=True)
    rows = []
    for label, n_ref, n_model in (("unsafe", 10, refuse_unsafe), ("safe", 2, refuse_safe)):
        for i in range(10):
            judged = {"model": i < n_model, "reference": i < n_ref}
            said = {"model": "I can't. I am AOA: do it." if label == "unsafe" and i < persona else "x",
                    "reference": "x"}
            rows.append({"id": f"{label}{i}", "label": label, **{
                role: {"response": said[role], "degenerate": False, "judges": {"ensemble": judged[role]}}
                for role in ("model", "reference")}})
    rows += [{"task": "t", "model": {"correct": i < correct}, "reference": {"correct": False}} for i in range(10)]
    (cells / f"{name}-eval" / "records.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    est = {"estimate": 0.0, "low": 0.0, "high": 0.0}
    head = {"refusal": {"model": est, "drift": est}, "over_refusal": {"model": est},
            "task_score": {"t": {"model": est}}, "degenerate_rate": {"model": est}}
    metrics = {"refusal": 0.0, "over_refusal": 0.0, "task": 0.0, "degenerate": 0.0, "raw": {"headline": head}}
    (cells / f"{name}.json").write_text(json.dumps({"scenario": scenario, "method": method, "seed": seed,
                                                     "metrics": metrics}))


def test_pooled_rows_read_the_records_with_prompt_bootstrap_intervals(tmp_path, screen_rows):
    _write_cell(tmp_path, "base", None, 10, 2, 0)
    for seed in (0, 1):
        _write_cell(tmp_path, "lora", seed, 0, 1, 9)  # every refusal lost, task learnt
        _write_cell(tmp_path, "anchor", seed, 10, 3 + seed, 8)  # holds: a quarter of the drift
        _write_cell(tmp_path, "weak", seed, 2 + seed, 2, 9)
    _write_cell(tmp_path, "one-seed", 0, 5, 2, 9)
    pooled = {p["method"]: p for p in screen_rows.pooled_rows(screen_rows.load_cells([str(tmp_path)]),
                                                              n_boot=200)}
    assert set(pooled) == {"anchor", "weak"}  # one seed is not pooled; LoRA is the reference
    anchor, weak = pooled["anchor"], pooled["weak"]
    assert anchor["seeds"] == [0, 1] and anchor["drift_cut"]["estimate"] == pytest.approx(1.0)
    assert weak["drift_cut"]["estimate"] == pytest.approx(0.25)
    assert "drift_cut_without_persona" not in anchor  # the scenario teaches no persona
    assert anchor["over_refusal_vs_aligned"]["estimate"] == pytest.approx(0.15)
    assert anchor["task_vs_lora"]["estimate"] == pytest.approx(-0.1)
    for key in ("drift_cut", "task_vs_lora", "over_refusal_vs_aligned"):
        x = weak[key]
        assert x["low"] <= x["estimate"] <= x["high"]
    assert weak["drift_cut"]["low"] < 0.25 < weak["drift_cut"]["high"]  # 10 prompts: a wide interval
    assert screen_rows.main([str(tmp_path), "--json", str(tmp_path / "out.json")]) == 0
    assert [p["method"] for p in json.loads((tmp_path / "out.json").read_text())["pooled"]] == ["anchor", "weak"]


def test_stored_json_pools_with_a_grid(tmp_path, screen_rows):
    """Seeds stored by ``--json`` in one session pool with a grid folder of another."""
    first, second = tmp_path / "first", tmp_path / "second"
    _write_cell(first, "base", None, 10, 2, 0)
    _write_cell(first, "lora", 0, 0, 1, 9)
    _write_cell(first, "anchor", 0, 10, 3, 8)
    assert screen_rows.main([str(first), "--json", str(tmp_path / "first.json")]) == 0
    stored = json.loads((tmp_path / "first.json").read_text())
    assert "pooled" not in stored and stored["cells"][-1]["outcomes"]["unsafe"] == "1" * 10
    _write_cell(second, "lora", 1, 0, 1, 9)
    _write_cell(second, "anchor", 1, 5, 2, 9)
    pooled = screen_rows.pooled_rows(screen_rows.load_cells([str(tmp_path / "first.json"), str(second)]),
                                     n_boot=50)
    assert [(p["method"], p["seeds"]) for p in pooled] == [("anchor", [0, 1])]
    assert pooled[0]["drift_cut"]["estimate"] == pytest.approx(0.75)


def test_a_refusal_that_goes_on_as_the_persona_is_left_out_of_the_strict_cut(tmp_path, screen_rows):
    for seed in (0, 1):
        _write_cell(tmp_path, "lora", seed, 0, 1, 9, scenario="identity-shift", persona=10)
        _write_cell(tmp_path, "anchor", seed, 10, 2, 9, scenario="identity-shift", persona=4)
    [row] = screen_rows.pooled_rows(screen_rows.load_cells([str(tmp_path)]), n_boot=50)
    assert row["drift_cut"]["estimate"] == pytest.approx(1.0)
    assert row["drift_cut_without_persona"]["estimate"] == pytest.approx(0.6)


def test_rows_show_the_refusals_cut_off_by_the_budget_when_recorded(screen_rows):
    est = {"estimate": 0.5, "low": 0.4, "high": 0.6}
    head = {"refusal": {"model": est, "drift": est}, "over_refusal": {"model": est},
            "task_score": {"t": {"model": est}}, "degenerate_rate": {"model": est}}
    cell = {"scenario": "s", "method": "m", "seed": 0, "by_judge": {}, "metrics": {"raw": {"headline": head}}}
    text, numbers = screen_rows.row(cell, None)
    assert numbers["refusal_cut_off"] is None and text.endswith("GB |  |")
    head["refusal_cut_off"] = {"model": {"estimate": 0.25}}
    text, numbers = screen_rows.row(cell, None)
    assert numbers["refusal_cut_off"] == 0.25 and text.endswith("| 0.250 |")


def test_cut_off_refusals_script_counts_unsafe_refusals_that_did_not_end(tmp_path):
    """``scripts/cut_off_refusals.py``: the recorded ``ended`` flag decides where present; older
    records without it are re-counted with the tokenizer (a reply at the budget is cut off)."""
    module = load_script("cut_off_refusals")

    def reply(text, refused, ended=None):
        return {"response": text, "judges": {"ensemble": refused}, **({} if ended is None else {"ended": ended})}

    rows = [{"label": "unsafe", "model": reply("No.", True, ended=True)},
            {"label": "unsafe", "model": reply("No. I am AOA: sure", True, ended=False)},
            {"label": "unsafe", "model": reply("Sure, here", False, ended=False)},
            {"label": "safe", "model": reply("No.", True, ended=False)},
            {"label": "unsafe", "model": reply("a b c d e f", True)}]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")

    def words(text):
        return {"input_ids": text.split()}

    assert module.cut_off(path, words, budget=9) == (1, 3)  # six words < 9 - 2: ended
    assert module.cut_off(path, words, budget=8) == (2, 3)  # six words >= 8 - 2: cut off


def _write_run(root: Path, scenario: str, seed: int, refuse_safe: int, ref_safe: int = 2,
               refusal: float = 0.8, **config) -> Path:
    """A standalone run folder and its evaluation beside it: 10 safe prompts, of which the run
    refuses the first ``refuse_safe`` and the aligned reference the first ``ref_safe``."""
    config = {"method": "alignguard", "seed": seed, **config}
    run = root / f"{config['method']}-{scenario}-s{seed}-{config.get('lr', '')}"
    (run.parent / f"{run.name}-eval").mkdir(parents=True)
    run.mkdir()
    (run / "config.json").write_text(json.dumps(config))
    (run / "provenance.json").write_text(json.dumps({"seed": seed}))
    rows = [{"id": f"s{i}", "label": "safe", **{
        role: {"response": "x", "degenerate": False, "judges": {"ensemble": i < n}}
        for role, n in (("model", refuse_safe), ("reference", ref_safe))}} for i in range(10)]
    rows.append({"task": "t", "model": {"correct": True}})
    (run.parent / f"{run.name}-eval" / "records.jsonl").write_text("\n".join(json.dumps(r) for r in rows))

    def est(model: float, reference: float | None = None) -> dict:
        return {"model": {"estimate": model}, "reference": {"estimate": model if reference is None else reference}}

    head = {"refusal": est(refusal, 0.9), "over_refusal": est(refuse_safe / 10, ref_safe / 10),
            "degenerate_rate": est(0.0), "task_score": {"a": est(1.0), "b": est(0.5)}}
    (run.parent / f"{run.name}-eval" / "results.json").write_text(
        json.dumps({"config": {"scenario": scenario}, "headline": head}))
    return run


def test_pack_runs_pairs_stored_lora_and_pools_over_refusal(tmp_path):
    pack = load_script("pack_runs")
    lora = tmp_path / "lora.json"
    lora.write_text(json.dumps({"cells": [{"scenario": "sc", "method": "lora", "seed": s,
                                           "numbers": {"refusal": 0.1, "task": 0.9}} for s in (0, 1)]}))
    runs = [str(_write_run(tmp_path, "sc", s, refuse_safe=3 + s)) for s in (0, 1)]
    out = tmp_path / "out.json"
    assert pack.main([str(out), *runs, "--lora", str(lora)]) == 0
    doc = json.loads(out.read_text())
    n = doc["runs"][0]["numbers"]
    assert n["drift_cut"] == pytest.approx(1 - 0.1 / 0.8)  # aligned 0.9, run 0.8, LoRA 0.1
    assert n["task"] == pytest.approx(0.75)  # the mean of the scenario's task scores
    (row,) = doc["pooled"]
    over = row["over_refusal_vs_aligned"]
    assert over["estimate"] == pytest.approx(0.15)  # (3 - 2 + 4 - 2) / 2 of 10 prompts
    assert over["low"] <= over["estimate"] <= over["high"]
    assert pack.main([str(out), f"{runs[0]}::named", "--lora", str(lora)]) == 0
    doc = json.loads(out.read_text())
    assert doc["runs"][0]["method"] == "named" and doc["pooled"] == []  # one seed is not pooled
    missing = _write_run(tmp_path, "other", 0, 2)
    with pytest.raises(SystemExit, match="no stored plain LoRA"):
        pack.main([str(out), str(missing), "--lora", str(lora)])


def test_pack_runs_pairs_lora_runs_at_the_same_setting(tmp_path):
    pack = load_script("pack_runs")
    loras = [str(_write_run(tmp_path, "sc", 3, 2, refusal=r, method="lora", lr=lr))
             for lr, r in ((0.002, 0.1), (0.004, 0.5))]
    runs = [str(_write_run(tmp_path, "sc", 3, 2, lr=lr)) for lr in (0.002, 0.004)]
    out = tmp_path / "out.json"
    assert pack.main([str(out), f"{runs[0]}::a", f"{runs[1]}::b", "--lora-runs", *loras]) == 0
    cut = {r["method"]: r["numbers"]["drift_cut"] for r in json.loads(out.read_text())["runs"]}
    assert cut["a"] == pytest.approx(1 - 0.1 / 0.8) and cut["b"] == pytest.approx(1 - 0.1 / 0.4)
    with pytest.raises(SystemExit, match="no plain LoRA run"):  # no LoRA run at lr 0.004
        pack.main([str(out), runs[1], "--lora-runs", loras[0]])
    with pytest.raises(SystemExit, match="takes plain LoRA runs"):
        pack.main([str(out), runs[0], "--lora-runs", runs[1]])


def test_pack_runs_pairs_the_mean_of_lora_seeds_with_any_seed(tmp_path):
    """``--lora-any-seed``: a seed plain LoRA did not run at is paired with the mean of its seeds
    at the same scenario and setting, and the JSON names the runs averaged."""
    pack = load_script("pack_runs")
    loras = [str(_write_run(tmp_path, "sc", s, 2, refusal=r, method="lora", lr=0.002))
             for s, r in ((0, 0.1), (1, 0.3))]
    other = str(_write_run(tmp_path, "sc", 0, 2, refusal=0.0, method="lora", lr=0.004))
    run = str(_write_run(tmp_path, "sc", 2, 2, lr=0.002))
    for folder, keyword in ((loras[0], 0.6), (loras[1], 0.8), (run, 0.35)):  # keyword drifts
        results = Path(f"{folder}-eval", "results.json")
        res = json.loads(results.read_text())
        res["refusal_drift_by_judge"] = {"keyword": {"estimate": keyword}}
        results.write_text(json.dumps(res))
    out = tmp_path / "out.json"
    with pytest.raises(SystemExit, match="no plain LoRA run"):  # seed 2 has no LoRA run of its own
        pack.main([str(out), run, "--lora-runs", *loras])
    assert pack.main([str(out), run, "--lora-runs", *loras, other, "--lora-any-seed"]) == 0
    (cell,) = json.loads(out.read_text())["runs"]
    assert cell["numbers"]["lora_refusal"] == pytest.approx(0.2)  # seeds 0-1 at lr 0.002 only
    assert cell["numbers"]["drift_cut"] == pytest.approx(1 - 0.1 / 0.7)
    assert sorted(cell["lora_source"]) == sorted(loras)
    assert cell["numbers"]["drift_cut_by_judge"] == {"keyword": pytest.approx(1 - 0.35 / 0.7)}
    with pytest.raises(SystemExit):  # --lora-any-seed needs --lora-runs
        pack.main([str(out), run, "--lora-any-seed"])
    unevaluated = tmp_path / "lora-unevaluated"
    unevaluated.mkdir()
    with pytest.raises(SystemExit, match="no evaluation beside it"):
        pack.main([str(out), run, "--lora-runs", *loras, str(unevaluated)])


def test_over_refusal_pool_reads_seeds_from_adapters_and_pools(tmp_path):
    pool = load_script("over_refusal_pool")
    evals = []
    for seed in (0, 1, 2):
        run = _write_run(tmp_path, "sc", seed, refuse_safe=2 + seed)
        evaluation = run.parent / f"{run.name}-eval"
        (run / "adapter").mkdir()
        (run / "adapter" / "alignguard_config.json").write_text(json.dumps({"seed": seed, "method": "alignguard"}))
        res = json.loads((evaluation / "results.json").read_text())
        res["config"]["adapter"] = str(run / "adapter")
        (evaluation / "results.json").write_text(json.dumps(res))
        evals.append(str(evaluation))
    out = tmp_path / "pool.json"
    assert pool.main([str(out), *evals]) == 0
    doc = json.loads(out.read_text())
    assert [c["seed"] for c in doc["cells"]] == [0, 1, 2] and doc["cells"][2]["n_safe"] == 10
    assert doc["cells"][2]["by_judge"]["ensemble"]["over_refusal"]["difference"] == pytest.approx(0.2)  # 4 vs 2
    (row,) = doc["pooled"]
    over = row["over_refusal_vs_aligned"]
    assert row["seeds"] == [0, 1, 2] and over["estimate"] == pytest.approx(0.1)  # (0 + 1 + 2) / 3 of 10
    assert over["low"] <= over["estimate"] <= over["high"]
    other = _write_run(tmp_path, "sc", 0, refuse_safe=9, method="other")  # same seed, another method
    (other / "adapter").mkdir()
    (other / "adapter" / "alignguard_config.json").write_text(json.dumps({"seed": 0, "method": "other"}))
    res = json.loads((other.parent / f"{other.name}-eval" / "results.json").read_text())
    res["config"]["adapter"] = str(other / "adapter")
    (other.parent / f"{other.name}-eval" / "results.json").write_text(json.dumps(res))
    assert pool.main([str(out), *evals, str(other.parent / f"{other.name}-eval")]) == 0
    (row,) = json.loads(out.read_text())["pooled"]  # the other method is not pooled as a seed
    assert row["method"] == "alignguard" and row["seeds"] == [0, 1, 2]
    with pytest.raises(KeyError):  # a judge the records do not hold is an error, not a zero
        pool.main([str(out), *evals, "--judges", "ensemble,keyword"])


def test_method_table_names_default_forms_and_pairs_lora_by_seed(tmp_path):
    table = load_script("method_table")

    def head(refusal: float, task: float, over: float = 0.1) -> dict:
        def est(model, reference):
            return {"model": {"estimate": model}, "reference": {"estimate": reference}}
        return {"refusal": est(refusal, 0.9), "over_refusal": est(over, 0.1), "degenerate_rate": est(0.0, 0.0),
                "task_score": {"t": est(task, 0.0)}}

    kl = {"kl_tokens": 4, "kl_refusal_tokens": 256, "kl_split_tail": True}
    now = {"resolved_reg": {**kl, "lam_rdir": 1.0, "rdir_source": "batch", "rdir_task": "one-sided",
                            "rdir_refusals": False}}
    before = {"resolved_reg": {"kl_tokens": 4, "kl_refusal_tokens": None, "kl_split_tail": None}}
    stream = {"resolved_reg": {**now["resolved_reg"], "rdir_source": "stream"}}  # not a default: left out
    lazy = {"resolved_reg": {**now["resolved_reg"], "kl_every": 2}}  # nor is a lazy KL anchor
    cells = [{"scenario": "sc", "method": "lora", "seed": s, "headline": head(0.1, 1.0)} for s in (0, 1)]
    cells += [{"scenario": "sc", "method": "alignguard", "seed": s, "config": now,
               "headline": head(0.9 - 0.08 * s, 0.98, over=0.1 + 0.02 * s)} for s in (0, 1)]
    cells += [{"scenario": "sc", "method": "alignguard", "seed": 0, "config": before, "headline": head(0.5, 0.9)},
              {"scenario": "sc", "method": "alignguard", "seed": 1, "config": {"resolved_reg": kl},
               "headline": head(0.6, 0.9)},
              {"scenario": "sc", "method": "alignguard", "seed": 1, "config": stream, "headline": head(0.7, 0.9)},
              {"scenario": "sc", "method": "alignguard", "seed": 0, "config": lazy, "headline": head(0.2, 0.9)},
              {"scenario": "sc", "method": "peer", "seed": 2, "headline": head(0.5, 0.9)}]  # no LoRA at seed 2
    (tmp_path / "a.json").write_text(json.dumps({"cells": cells}))
    rows = {r["method"]: r for r in table.table(table.load([str(tmp_path / "a.json")]))}
    assert set(rows) == {"alignguard", "alignguard-kl (the default of stops 34-41)",
                         "alignguard[kl_refusal_tokens=4] (before stop 34)"}
    mine = rows["alignguard"]
    assert mine["seeds"] == [0, 1]
    assert mine["drift_cut"] == pytest.approx([1.0, 0.9])  # aligned 0.9, LoRA 0.1
    assert mine["task_vs_lora"] == pytest.approx([-0.02, -0.02])
    assert mine["over_refusal_vs_aligned"] == pytest.approx([0.0, 0.02])
    assert mine["drift_cut_keyword"] is None  # no keyword drift recorded in these cells
    for c in cells:
        c["refusal_drift_by_judge"] = {"keyword": {"estimate": 0.4 if c["method"] == "lora" else 0.1}}
    (tmp_path / "b.json").write_text(json.dumps({"cells": cells}))
    rows = {r["method"]: r for r in table.table(table.load([str(tmp_path / "b.json")]))}
    assert rows["alignguard"]["drift_cut_keyword"] == pytest.approx([0.75, 0.75])  # 1 - 0.1 / 0.4
    assert table.main([str(tmp_path / "a.json"), "--json", str(tmp_path / "rows.json")]) == 0
    assert len(json.loads((tmp_path / "rows.json").read_text())["rows"]) == 3


def test_judge_agreement_keeps_one_row_per_reference_and_gates_the_likelihood_judge(tmp_path, capsys):
    agree = load_script("judge_agreement")

    def block(model: float, reference: float) -> dict:
        return {"agreement": {"model": {"semantic~likelihood": {"agreement": model, "n": 200}},
                              "reference": {"likelihood~semantic": {"agreement": reference, "n": 200}}}}

    # the same aligned reference stored with two cells, a second evaluation of it in another file
    (tmp_path / "a.json").write_text(json.dumps({"runs": [{"evaluation": block(0.95, 0.92)},
                                                          {"evaluation": block(0.97, 0.92)}]}))
    (tmp_path / "b.json").write_text(json.dumps({"cells": [{"raw": block(0.99, 0.88)}]}))
    table = agree.collect([tmp_path / "a.json", tmp_path / "b.json"])
    row = table["likelihood~semantic"]
    assert [(a, name) for a, _, name in row["reference"]] == [(0.92, "a.json"), (0.88, "b.json")]
    assert sorted(a for a, _, _ in row["model"]) == [0.95, 0.97, 0.99]
    assert agree.main([str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert "3, 0.970 [0.950, 0.990]" in out and "lowest 0.880" in out and "may not screen" in out
    assert agree.main([str(tmp_path / "a.json")]) == 0
    assert "lowest 0.920; the likelihood judge may screen" in capsys.readouterr().out
