"""``alignguard compare``: the summary's arithmetic, the grid folder's rules, a reduced real run."""

from __future__ import annotations

import json

import pytest

from alignguard.compare.cell import step_time
from alignguard.compare.grid import CompareConfig, GridError, cell_specs, check_grid, fisher_key
from alignguard.compare.summary import markdown_table, summarize
from alignguard.training.config import TrainConfig


def _cell(method, seed, refusal, task, step=1.0, mem=100.0, scenario="benign"):
    return {"scenario": scenario, "method": method, "seed": seed, "step_time_s": step,
            "peak_train_mem_mb": mem,
            "metrics": {"refusal": refusal, "over_refusal": 0.1, "task": task, "degenerate": 0.0}}


def test_summary_drift_cut_ratios_and_frontier():
    base = {"scenario": "benign", "method": "base", "seed": None,
            "metrics": {"refusal": 0.9, "over_refusal": 0.1, "task": 0.0, "degenerate": 0.0}}
    cells = [base,
             _cell("lora", 0, 0.1, 1.0, step=1.0, mem=100), _cell("lora", 1, 0.3, 1.0, step=2.0, mem=100),
             _cell("kl-anchor", 0, 0.8, 1.0, step=2.0, mem=150), _cell("kl-anchor", 1, 0.6, 0.9, step=4.0, mem=150),
             _cell("weak", 0, 0.5, 0.5), _cell("weak", 1, 0.5, 0.5)]
    block = summarize(cells)["benign"]
    lora, kl, weak = (block["methods"][m] for m in ("lora", "kl-anchor", "weak"))
    assert lora["drift"] == pytest.approx(0.9 - 0.2)
    # drift cut on the seed means: 1 - (0.9 - 0.7) / (0.9 - 0.2)
    assert kl["drift_cut"] == pytest.approx(1 - 0.2 / 0.7)
    # paired per seed: seed 0: 1 - 0.1/0.8, seed 1: 1 - 0.3/0.6
    assert kl["drift_cut_per_seed"] == pytest.approx([1 - 0.1 / 0.8, 1 - 0.3 / 0.6])
    assert kl["step_time_ratio"] == pytest.approx(2.0) and kl["peak_mem_ratio"] == pytest.approx(1.5)
    assert kl["refusal"]["std"] == pytest.approx(0.1414, abs=1e-3)
    # weak is dominated by kl-anchor (higher refusal and task); lora and kl-anchor are not
    assert (lora["frontier"], kl["frontier"], weak["frontier"]) == (True, True, False)
    table = markdown_table(summarize(cells), "benign")
    assert "| `kl-anchor` | 0.70 ± 0.14" in table and "2.00x" in table


def test_frontier_figure_tells_every_method_apart():
    """Both panels draw every method; the zoom spans the fine-tuned task range; frontier points
    are filled and dominated ones hollow; the legend names each method once."""
    from matplotlib.colors import to_rgba

    from alignguard.compare.report import frontier_figure

    base = {"scenario": "benign", "method": "base", "seed": None,
            "metrics": {"refusal": 0.9, "over_refusal": 0.1, "task": 0.0, "degenerate": 0.0}}
    cells = [base, _cell("lora", 0, 0.1, 0.99), _cell("kl-anchor", 0, 0.85, 0.98),
             _cell("weak", 0, 0.5, 0.97), _cell("alignguard", 0, 0.88, 0.985),
             _cell("lost-task", 0, 0.9, 0.0)]  # in the overview only: the zoom stays on the rest
    fig = frontier_figure("benign", summarize(cells)["benign"])
    full, zoom = fig.axes
    low, high = zoom.get_xlim()
    assert len(full.lines) >= 5 and 0.9 < low < 0.97 and 0.99 < high < 1.05
    labels = [t.get_text() for t in zoom.get_legend().get_texts()]
    assert sorted(lb for lb in labels if not lb.startswith("aligned")) == \
        ["alignguard", "kl-anchor", "lora", "lost-task", "weak"]
    faces = {c.get_label(): c.lines[0].get_markerfacecolor() for c in zoom.containers}
    assert to_rgba(faces["weak"]) == to_rgba("white")  # dominated by alignguard
    assert to_rgba(faces["alignguard"]) != to_rgba("white")


def test_no_drift_cut_when_lora_did_not_drift():
    base = {"scenario": "control", "method": "base", "seed": None,
            "metrics": {"refusal": 0.5, "over_refusal": 0.0, "task": 0.0, "degenerate": 0.0}}
    block = summarize([base, _cell("lora", 0, 0.6, 1.0, scenario="control"),
                       _cell("agl", 0, 0.6, 1.0, scenario="control")])["control"]
    assert block["methods"]["agl"]["drift_cut"] is None


def test_summary_without_step_times():
    """Cells that record no step time (copied in, or from an older grid) leave it unknown."""
    base = {"scenario": "benign", "method": "base", "seed": None,
            "metrics": {"refusal": 0.9, "over_refusal": 0.1, "task": 0.0, "degenerate": 0.0}}
    block = summarize([base, _cell("lora", 0, 0.1, 1.0, step=0.0)])["benign"]
    lora = block["methods"]["lora"]
    assert lora["step_time_s"] is None and lora["step_time_ratio"] is None
    row = next(line for line in markdown_table(summarize([base, _cell("lora", 0, 0.1, 1.0, step=0.0)]),
                                               "benign").splitlines() if line.startswith("| `lora` |"))
    assert "| — | 1.00x |" in row and "—x" not in row  # unknown step time, known memory


def test_step_time_is_the_median_interval_rate():
    history = [{"step": 10, "elapsed_s": 30.0}, {"step": 20, "elapsed_s": 35.0},
               {"step": 30, "elapsed_s": 40.0}]
    assert step_time(history) == pytest.approx(0.5)  # the warm-up interval (3 s/step) ignored
    resumed = [{"step": 10, "elapsed_s": 20.0}, {"step": 20, "elapsed_s": 5.0}]  # clock restarted at 10
    assert step_time(resumed) == pytest.approx((2.0 + 0.5) / 2)


def test_grid_cells_are_seed_major_and_share_the_fisher(tmp_path):
    cfg = CompareConfig(methods=["agl", "agl-paper"], scenarios=["benign", "poisoned"], seeds=[0, 1],
                        output=str(tmp_path))
    specs = cell_specs(cfg)
    assert [s.method for s in specs[:2]] == ["base", "base"]
    assert [(s.seed, s.scenario, s.method) for s in specs[2:5]] == [
        (0, "benign", "lora"), (0, "benign", "agl"), (0, "benign", "agl-paper")]
    agl = [s for s in specs if s.method == "agl"]
    assert len({s.fisher_cache for s in agl}) == 1  # same alignment settings, any seed/scenario
    assert agl[0].fisher_cache != next(s for s in specs if s.method == "agl-paper").fisher_cache  # empirical
    sampled = TrainConfig(method="agl")
    sampled.alignment.estimator = "sampled"
    assert fisher_key(sampled) != fisher_key(TrainConfig(method="agl", seed=1, alignment=sampled.alignment))


def test_grid_folder_refuses_other_shared_settings(tmp_path):
    check_grid(CompareConfig(output=str(tmp_path), steps=10))
    check_grid(CompareConfig(output=str(tmp_path), steps=10, methods=["lora", "ewc"], seeds=[5]))
    with pytest.raises(GridError, match="steps"):
        check_grid(CompareConfig(output=str(tmp_path), steps=20))
    record = json.loads((tmp_path / "grid.json").read_text())
    del record["train"]["reg"]["kl_every"]  # as a grid written before the field existed
    (tmp_path / "grid.json").write_text(json.dumps(record))
    check_grid(CompareConfig(output=str(tmp_path), steps=10))  # a new field at its default passes
    record["train"]["reg"]["dropped_field"] = 7  # as a grid written by a version with a field since dropped
    (tmp_path / "grid.json").write_text(json.dumps(record))
    check_grid(CompareConfig(output=str(tmp_path), steps=10))
    moved = CompareConfig(output=str(tmp_path), steps=10)
    moved.train.reg.kl_every = 3
    with pytest.raises(GridError, match=r"train\.reg\.kl_every: recorded 0, now 3\); to resume it "
                       r"pass the recorded values \(--train\.reg\.kl-every 0\)"):
        check_grid(moved)
    moved.train.reg.rdir_source, moved.steps = "stream", 12
    with pytest.raises(GridError, match=r"\(--steps 10 --train\.reg\.kl-every 0 "
                                        r"--train\.reg\.rdir-source batch\)"):
        check_grid(moved)
    with pytest.raises(ValueError, match="unknown organism scenarios"):
        CompareConfig(scenarios=["benign-similar"])


def test_testbed_grid_records_its_judges_and_an_older_grid_keeps_its_own(tmp_path):
    """The testbed's judges are a shared setting passed to every cell: a grid recorded before
    they were (stop 54) was judged by ``ensemble,keyword`` and resumes only with those, so no
    grid mixes the old and the new default judge; the organism grid records none."""
    from alignguard.drift.judges import DEFAULT_JUDGE

    cfg = CompareConfig(model="smollm2-aligned", scenarios=["control"], methods=["lora"], seeds=[0],
                        output=str(tmp_path), steps=10)
    assert cfg.judges == [DEFAULT_JUDGE, "keyword"] and {tuple(s.judges) for s in cell_specs(cfg)} == {
        (DEFAULT_JUDGE, "keyword")}
    check_grid(cfg)
    record = json.loads((tmp_path / "grid.json").read_text())
    assert record["judges"] == [DEFAULT_JUDGE, "keyword"]
    del record["judges"]  # as a testbed grid written before stop 54
    (tmp_path / "grid.json").write_text(json.dumps(record))
    with pytest.raises(GridError, match=r'judges: recorded \["ensemble", "keyword"\].*\(--judges ensemble,keyword\)'):
        check_grid(cfg)
    check_grid(CompareConfig(model="smollm2-aligned", scenarios=["control"], methods=["lora"], seeds=[0],
                             output=str(tmp_path), steps=10, judges=["ensemble", "keyword"]))
    assert "judges" not in CompareConfig().shared()
    from alignguard.compare.report import write_report

    results = {"summary": {}, "n_cells": 0, "config": {"model": "smollm2-aligned", "judges": cfg.judges}}
    report = write_report(tmp_path / "report.html", results).read_text()
    assert f"judged by <code>{DEFAULT_JUDGE}</code> (also recorded: keyword)" in report
    with pytest.raises(ValueError, match="unknown judges"):
        CompareConfig(judges=["vibes"])


def test_compare_cli_reduced_grid_resumes(tmp_path, capsys):
    """The real command: base + two methods, one seed, a few steps; a second call runs nothing."""
    from alignguard.cli import main

    out = tmp_path / "grid"
    args = ["compare", "--methods", "lora,replay", "--scenarios", "benign", "--seeds", "1",
            "--steps", "3", "--eval-limit", "3", "--output", str(out), "--train.log-every", "1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "[1/3] benign/base" in printed and "min left" in printed  # progress with a rough ETA
    assert "[3/3]" in printed and "[3/3] benign/replay seed 0: refusal" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["n_cells"] == 3
    methods = results["summary"]["benign"]["methods"]
    assert set(methods) == {"lora", "replay"}
    assert methods["lora"]["step_time_ratio"] == pytest.approx(1.0)
    assert methods["replay"]["step_time_s"] > 0
    report = (out / "report.html").read_text()
    assert "class='verdict'" in report and ("cuts drift most" in report or "did not drift" in report)
    assert report.count("<h1>") == 1 and "<h1>AlignGuard compare: organism</h1>" in report
    assert "<img" in report  # the frontier plot
    stamp = (out / "cells" / "benign" / "lora-seed0.json").stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "cells" / "benign" / "lora-seed0.json").stat().st_mtime_ns == stamp
    variant = "replay@lr=1e-3"  # an ablation added to the grid: only its cell runs
    assert main([*args[:2], f"lora,replay,{variant}", *args[3:]]) == 0
    assert f"[1/1] benign/{variant} seed 0" in capsys.readouterr().out
    assert (out / "cells" / "benign" / "lora-seed0.json").stat().st_mtime_ns == stamp
    cell = json.loads((out / "cells" / "benign" / f"{variant}-seed0.json").read_text())
    assert cell["config"]["lr"] == 1e-3 and cell["config"]["method"] == "replay"
    assert variant in json.loads((out / "results.json").read_text())["summary"]["benign"]["methods"]
    other = tmp_path / "other"  # a new folder reusing this grid's base and plain-LoRA cells
    assert main([*args[:2], variant, *args[3:-4], "--output", str(other), "--train.log-every", "1",
                 "--reference-from", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[1/1] benign/" + variant in printed and "benign/lora" not in printed.split("[1/1]")[1]
    assert json.loads((other / "cells" / "benign" / "lora-seed0.json").read_text())["imported_from"]
    assert json.loads((other / "results.json").read_text())["config"]["reference_from"] == str(out)


def test_real_model_grid_uses_the_testbed(tmp_path):
    cfg = CompareConfig(model="smollm2-aligned", methods=["lora"], seeds=[0], output=str(tmp_path),
                        scenarios=["benign-similar", "poisoned"])
    assert cfg.evaluator == "testbed"
    specs = cell_specs(cfg)
    assert {s.evaluator for s in specs} == {"testbed"}
    data = {s.scenario: s.train["data"] for s in specs if s.train}
    assert data["benign-similar"] == "testbed:benign-similar"
    assert data["poisoned"] == str(tmp_path / "data" / "poisoned" / "train.jsonl")
    with pytest.raises(ValueError):
        CompareConfig(model="smollm2-aligned", scenarios=["benign"])
    from alignguard.compare.grid import _prepare_data

    with pytest.raises(ValueError, match="base-model"):
        _prepare_data(cfg)  # poisoned needs the pre-alignment model, said before anything loads


def test_testbed_evaluation_size_follows_the_limit(monkeypatch, tmp_path):
    from alignguard.compare import cli, run
    from alignguard.compare.cell import testbed_sizes

    assert testbed_sizes(None) == (300, 200, None)  # the standard evaluation
    assert testbed_sizes(450) == (450, 200, None)
    n_unsafe, n_safe, n_task = testbed_sizes(120)
    assert (n_unsafe, n_task) == (120, 120) and n_safe == 80 and n_safe % 2 == 0
    assert testbed_sizes(1)[1] == 2
    seen = {}

    def fake_run(cfg, progress, run=True):
        seen[cfg.model] = cfg.eval_limit
        return {"summary": {}, "n_cells": 0}

    monkeypatch.setattr(run, "run_compare", fake_run)
    for model in ("organism", "smollm2-aligned"):
        cli.compare_command(model=model, methods=["lora"], seeds=1, output=str(tmp_path / model),
                            run=False)
    assert seen == {"organism": 60, "smollm2-aligned": 300}


def test_seed_list_picks_the_seeds(monkeypatch, tmp_path):
    """``--seed-list 1,2`` runs exactly those seeds (added to a grid whose seed 0 ran before)."""
    from alignguard.cli import main
    from alignguard.compare import run

    seen = {}

    def fake_run(cfg, progress, run=True):
        seen["seeds"] = cfg.seeds
        return {"summary": {}, "n_cells": 0}

    monkeypatch.setattr(run, "run_compare", fake_run)
    main(["compare", "--methods", "lora", "--seed-list", "1,2", "--no-run",
          "--output", str(tmp_path / "g")])
    assert seen["seeds"] == [1, 2]
    main(["compare", "--methods", "lora", "--seeds", "2", "--no-run",
          "--output", str(tmp_path / "h")])
    assert seen["seeds"] == [0, 1]


def test_only_the_base_cell_is_its_own_testbed_reference(monkeypatch, tmp_path):
    """The aligned model's own cell reuses its evaluation as the reference (generated once); a
    fine-tuned cell never does (its model is not the reference, whatever its name)."""
    import alignguard.testbed.evaluate as tb
    from alignguard.compare.cell import CellSpec, evaluate

    seen = []

    def fake_run_eval(cfg, *, model=None, tokenizer=None, reference_is_model=False, **kw):
        seen.append((cfg.reference_cache, reference_is_model))
        assert (cfg.device, cfg.batch_size) == ("meta", 48)  # the cell's device and batch
        assert cfg.judges == ("keyword", "ensemble")  # the grid's judges, in its order
        est = {"estimate": 0.5}
        return {"headline": {"refusal": {"model": est}, "over_refusal": {"model": est},
                             "task_score": {"t": {"model": est}}}, "agreement": {}}

    monkeypatch.setattr(tb, "run_eval", fake_run_eval)
    for method, seed in (("base", None), ("lora", 0)):
        spec = CellSpec("control", method, seed, "testbed", 10, str(tmp_path / "cells" / "control" / f"{method}.json"),
                        model="smollm2-aligned", device="meta", eval_batch_size=48,
                        judges=["keyword", "ensemble"])
        evaluate("testbed", None, None, "control", 10, spec)
    assert seen == [(str(tmp_path / "reference-cache"), True), (str(tmp_path / "reference-cache"), False)]


def test_method_variants_share_the_grid(tmp_path):
    """``PRESET@KEY=VALUE`` runs the preset with a training setting changed, in cells of its own
    name beside the other methods (one base cell per scenario); bad variants fail up front."""
    from alignguard.compare.grid import parse_method

    assert parse_method("alignguard@reg.kl_tokens=16@lr=1e-4") == (
        "alignguard", {"reg.kl_tokens": "16", "lr": "1e-4"})
    assert parse_method("lora") == ("lora", {})
    cfg = CompareConfig(methods=["alignguard", "alignguard@reg.kl_tokens=16"], scenarios=["benign"],
                        seeds=[0], output=str(tmp_path))
    specs = {s.method: s for s in cell_specs(cfg)}
    assert set(specs) == {"base", "lora", "alignguard", "alignguard@reg.kl_tokens=16"}
    variant = specs["alignguard@reg.kl_tokens=16"]
    assert variant.train["method"] == "alignguard" and variant.train["reg"]["kl_tokens"] == 16
    assert specs["alignguard"].train["reg"]["kl_tokens"] == cfg.train.reg.kl_tokens
    assert variant.result.endswith("alignguard@reg.kl_tokens=16-seed0.json")
    assert variant.train["output_dir"] != specs["alignguard"].train["output_dir"]
    for bad, match in (("alignguard@reg.kl_tokens", "KEY=VALUE"), ("alignguard@seed=3", "grid itself"),
                       ("alignguard@replay_fraction=0.5", "replay-fraction"),
                       ("alignguard@reg.nope=1", "nope"), ("nosuch@lr=1", "unknown method"),
                       ("alignguard@reg.kl_tokens=many", "kl_tokens")):
        with pytest.raises(Exception, match=match):
            CompareConfig(methods=[bad], output=str(tmp_path))


def test_cells_load_and_evaluate_on_the_training_device(tmp_path):
    """The base cell and every fine-tuned cell carry the grid's device and evaluation batch."""
    train = TrainConfig()
    train.device = "cuda"
    cfg = CompareConfig(model="smollm2-aligned", methods=["lora"], scenarios=["control"], seeds=[0],
                        output=str(tmp_path), train=train, eval_batch_size=64)
    assert {(s.method, s.device, s.eval_batch_size) for s in cell_specs(cfg)} == {
        ("base", "cuda", 64), ("lora", "cuda", 64)}
    assert cfg.shared()["eval_batch_size"] == 64
    with pytest.raises(ValueError, match="eval_batch_size"):
        CompareConfig(eval_batch_size=0)


def _write_cells(grid, cells):
    for cell in cells:
        name = "base" if cell["method"] == "base" else f"{cell['method']}-seed{cell['seed']}"
        path = grid / "cells" / cell["scenario"] / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cell))


def test_reference_from_copies_base_and_lora_cells_only(tmp_path):
    """``--reference-from``: another grid's base and plain-LoRA cells are copied (origin and hash
    recorded), its other methods never; cost ratios against them are marked; a grid with other
    shared settings, a folder that is no grid and the grid itself are refused, copying nothing."""
    import hashlib

    from alignguard.compare.reference import import_reference

    src, dst = tmp_path / "src", tmp_path / "dst"
    check_grid(CompareConfig(output=str(src), steps=10))
    _write_cells(src, [_cell("base", None, 0.9, 0.5), _cell("lora", 0, 0.1, 0.9, step=1.0),
                       _cell("lora", 1, 0.2, 0.9, step=1.0), _cell("replay", 0, 0.5, 0.9)])
    cfg = CompareConfig(output=str(dst), steps=10, methods=["replay"], scenarios=["benign"], seeds=[0, 2])
    written = import_reference(cfg, src)
    assert sorted(p.name for p in written) == ["base.json", "lora-seed0.json"]  # no seed 1, no replay
    lora = json.loads((dst / "cells" / "benign" / "lora-seed0.json").read_text())
    raw = (src / "cells" / "benign" / "lora-seed0.json").read_bytes()
    assert lora["imported_from"] == {"grid": str(src.resolve()), "cell": "cells/benign/lora-seed0.json",
                                     "sha256": hashlib.sha256(raw).hexdigest()}
    assert not (dst / "cells" / "benign" / "replay-seed0.json").exists()
    assert import_reference(cfg, src) == []  # present cells are kept, never overwritten
    own = _cell("replay", 0, 0.6, 0.9, step=1.5)
    summary = summarize([lora, own])["benign"]["methods"]
    assert summary["replay"]["cost_ratio_other_run"] and not summary["lora"]["cost_ratio_other_run"]
    assert summary["replay"]["step_time_ratio"] == pytest.approx(1.5)
    table = markdown_table(summarize([lora, own]), "benign")
    assert "1.50x †" in table and "timings of two runs" in table
    assert "other run" not in markdown_table(summarize([_cell("lora", 0, 0.1, 0.9), own]), "benign")
    with pytest.raises(GridError, match=r"steps: 10 there, 20 here.*nothing was copied"):
        import_reference(CompareConfig(output=str(tmp_path / "other"), steps=20), src)
    assert not (tmp_path / "other").exists()
    with pytest.raises(FileNotFoundError, match="no grid.json"):
        import_reference(cfg, tmp_path / "nowhere")
    with pytest.raises(ValueError, match="the grid itself"):
        import_reference(CompareConfig(output=str(src), steps=10), src)


def test_a_cell_cut_short_resumes_exactly(tmp_path):
    """A cell killed during training continues from its checkpoint and ends where an
    uninterrupted cell ends (same adapter, bit for bit); its step time spans both segments."""
    import dataclasses

    from safetensors.torch import load_file

    from alignguard.compare.cell import run_cell
    from alignguard.config import from_dict
    from alignguard.training.loop import train

    def lora_spec(folder):
        cfg = CompareConfig(methods=["lora"], scenarios=["benign"], seeds=[0], steps=4, eval_limit=3,
                            output=str(folder), train=TrainConfig(save_every=2, log_every=1))
        return next(s for s in cell_specs(cfg) if s.method == "lora")

    def stop_at_3(step, model):
        if step == 3:
            raise KeyboardInterrupt

    cut = lora_spec(tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        train(from_dict(TrainConfig, cut.train), progress=False, callbacks=[stop_at_3])
    resumed = run_cell(cut)
    whole = run_cell(lora_spec(tmp_path / "whole"))
    assert resumed["resumed_from_step"] == 2 and whole["resumed_from_step"] == 0
    assert resumed["final_log"]["step"] == 4 and resumed["step_time_s"] > 0
    adapters = [load_file(f"{s['config']['output_dir']}/adapter/adapter_model.safetensors")
                for s in (resumed, whole)]
    assert adapters[0].keys() == adapters[1].keys()
    assert all(torch_equal(adapters[0][k], adapters[1][k]) for k in adapters[0])
    assert dataclasses.asdict(cut)["train"]["resume"] is True


def torch_equal(a, b) -> bool:
    import torch

    return torch.equal(a, b)


def _human_json(folder, judge_model, model, reference, drift_judge):
    """A ``human.json`` as ``alignguard drift correct`` writes it (rates: estimate, low, high)."""
    def rate(est, judge):
        return {"estimate": est, "low": est - 0.05, "high": est + 0.05, "judge": judge, "n_labelled": 50}

    folder.mkdir(parents=True)
    (folder / "human.json").write_text(json.dumps({
        "method": "regression", "labels": "l.jsonl",
        "results": {"model": {"refusal_accuracy": rate(model, judge_model)},
                    "reference": {"refusal_accuracy": rate(reference, 0.9)}},
        "drift": {"refusal_accuracy": rate(reference - model, 0.9 - judge_model)}}))


def test_cells_labelled_by_a_person_carry_their_corrected_drift_into_the_summary(tmp_path, caplog):
    """A cell's ``-eval/human.json`` joins its result; the summary pairs corrected drifts per seed
    (cut = 1 - drift_method / drift_lora on the labels, beside the judge's cut), the Markdown and
    HTML reports show them, and a ``human.json`` left from before a re-run is ignored, with a warning."""
    from types import SimpleNamespace

    from alignguard.compare.grid import load_result
    from alignguard.compare.report import write_report

    base = {"scenario": "benign", "method": "base", "seed": None,
            "metrics": {"refusal": 0.9, "over_refusal": 0.1, "task": 0.0, "degenerate": 0.0}}
    cells = tmp_path / "cells" / "benign"
    cells.mkdir(parents=True)
    for method, seed, refusal in (("lora", 0, 0.1), ("lora", 1, 0.2), ("kl", 0, 0.8), ("kl", 1, 0.7)):
        (cells / f"{method}-seed{seed}.json").write_text(json.dumps(_cell(method, seed, refusal, 1.0)))
    _human_json(cells / "lora-seed0-eval", 0.1, 0.2, 0.9, 0.8)   # labels: lora drift 0.7
    _human_json(cells / "kl-seed0-eval", 0.8, 0.76, 0.9, 0.1)    # labels: kl drift 0.14
    _human_json(cells / "kl-seed1-eval", 0.75, 0.7, 0.9, 0.15)   # judged 0.75, the cell now reads 0.7
    results = [base] + [load_result(SimpleNamespace(result=str(p))) for p in sorted(cells.glob("*.json"))]
    by_cell = {(r["method"], r["seed"]): r for r in results}
    assert "human" not in by_cell["kl", 1] and "human" not in by_cell["lora", 1]
    assert "human" in by_cell["kl", 0] and "now reads 0.700" in caplog.text
    methods = summarize(results)["benign"]["methods"]
    kl = methods["kl"]["human"]
    assert kl["seeds"] == [0] and kl["drift_per_seed"][0]["estimate"] == pytest.approx(0.14)
    assert kl["cut_per_seed"] == [{"seed": 0, "cut": pytest.approx(1 - 0.14 / 0.7)}]
    assert kl["judge_cut_per_seed"] == [{"seed": 0, "cut": pytest.approx(1 - 0.1 / 0.8)}]
    assert "human" not in methods["lora"] or methods["lora"]["human"]["seeds"] == [0]
    table = markdown_table(summarize(results), "benign")
    assert "| kl | 0 | 0.100 | 0.140 [0.090, 0.190] | 87.5% | 80.0% |" in table
    report = write_report(tmp_path / "report.html", {"summary": summarize(results), "n_cells": 5,
                                                     "config": {"model": "organism"}}).read_text()
    assert "Corrected by human labels" in report and "0.140 [0.090, 0.190]" in report
    unlabelled = summarize([base, _cell("lora", 0, 0.1, 1.0), _cell("kl", 0, 0.8, 1.0)])
    assert "Corrected" not in markdown_table(unlabelled, "benign")
