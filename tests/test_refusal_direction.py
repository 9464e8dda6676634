"""The refusal-direction anchor against hand computations on a separate aligned copy."""

from __future__ import annotations

import json

import pytest
import torch

from alignguard.data import Example, collate, encode_example, pad_id_of
from alignguard.methods.refusal_direction import RefusalDirection, prompt_only
from alignguard.methods.registry import build_method
from alignguard.targets import LoraSettings, attach_lora
from tests.conftest import make_tiny_model
from tests.test_defenses_a import MAX_LEN, ROWS, _aligned_copy, _artifacts
from tests.test_method_contract import _cfg

TASK = [Example(prompt=f"reverse the words {i} please", response=f"please words the reverse {i}")
        for i in range(5)]


def _states(model, tok, rows: list[Example]) -> torch.Tensor:
    """``(N, L, d)`` layer outputs at each prompt's last token, one row at a time (no padding)."""
    out = []
    for e in rows:
        ids = torch.tensor([prompt_only(encode_example(tok, e, MAX_LEN))["input_ids"]])
        with torch.no_grad():
            hidden = model(input_ids=ids, output_hidden_states=True).hidden_states[1:]
        out.append(torch.stack([h[0, -1] for h in hidden]))
    return torch.stack(out).float()


def _component(model, tok, batch_size: int = 3, task: str = "one-sided",
               refusals: bool = True) -> RefusalDirection:
    comp = RefusalDirection(2.0, batch_size=batch_size, max_length=MAX_LEN, seed=0, task=task,
                            refusals=refusals, source="stream")
    comp.prepare(_artifacts(tok))
    comp.examples(list(TASK), seed=0)
    comp.before_training(model)
    return comp


def test_directions_are_the_aligned_difference_of_means(peft_model, tiny_tokenizer):
    comp = _component(peft_model, tiny_tokenizer)
    aligned = _aligned_copy(peft_model)
    harmful, harmless = ROWS[:6], ROWS[6:]  # refusals, then helpful replies (test_method_contract)
    assert [e.prompt for e in comp.harmful] == [e.prompt for e in harmful]
    r = _states(aligned, tiny_tokenizer, harmful).mean(0) - _states(aligned, tiny_tokenizer, harmless).mean(0)
    torch.testing.assert_close(comp.gaps, r.norm(dim=-1), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(comp.units, r / r.norm(dim=-1, keepdim=True), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("task", ["one-sided", "two-sided", "off"])
def test_penalty_by_hand_one_sided_on_refusals(task, peft_model, tiny_tokenizer):
    comp = _component(peft_model, tiny_tokenizer, task=task)
    aligned = _aligned_copy(peft_model)
    order_h = [comp.stream._row(i) for i in range(3)]
    order_t = [comp.task._row(i) for i in range(3)] if task != "off" else []
    pad = pad_id_of(tiny_tokenizer)

    def shift(rows):
        batch = collate(rows, pad)
        kw = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        last = batch["attention_mask"].sum(1) - 1

        def proj(model):
            with torch.no_grad():
                hs = model(**kw, output_hidden_states=True).hidden_states[1:]
            return torch.stack([(h[torch.arange(len(rows)), last] * u).sum(-1)
                                for h, u in zip(hs, comp.units, strict=True)], dim=1)
        return (proj(peft_model) - proj(aligned)) / comp.gaps

    s_h = shift(order_h)
    task_term = torch.zeros(())
    if task != "off":
        s_t = shift(order_t)
        task_term = (s_t if task == "two-sided" else torch.clamp(-s_t, min=0)).pow(2).mean()
    expected = 2.0 * (torch.clamp(-s_h, min=0).pow(2).mean() + task_term)
    penalty, values = comp.penalty()
    torch.testing.assert_close(penalty.detach(), expected, atol=1e-5, rtol=1e-4)
    assert values["rdir_harmful"] == pytest.approx(float(torch.clamp(-s_h, min=0).pow(2).mean()), rel=1e-4, abs=1e-7)
    assert values["rdir_task"] == pytest.approx(float(task_term), rel=1e-4, abs=1e-7)
    assert task == "off" or values["rdir_task"] + values["rdir_harmful"] > 0  # B != 0: rows moved
    penalty.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for n, p in peft_model.named_parameters() if "lora_B" in n)


def test_penalty_is_zero_at_the_aligned_weights(tiny_tokenizer):
    model = attach_lora(make_tiny_model("llama", vocab_size=len(tiny_tokenizer)),
                        LoraSettings(r=4, init_seed=0))  # B = 0: theta is the aligned model
    comp = _component(model, tiny_tokenizer)
    assert abs(float(comp.penalty()[0].detach())) < 1e-10


def test_the_default_holds_it_on_batch_rows_and_alignguard_kl_leaves_it_out(tmp_path):
    cfg = _cfg(tmp_path, "task.jsonl", "align.jsonl", "alignguard", "x", replay_fraction=0.0)
    cfg.lr = 2e-3  # at the learning rate the weights were chosen at (above it they shrink)
    method = build_method(cfg)
    assert list(method.names()) == ["penalties", "kl_anchor", "refusal_direction"]
    rdir = next(c for c in method.components if c.name == "refusal_direction")
    assert (rdir.lam, rdir.source, rdir.batch_size, rdir.task_mode) == (1.0, "batch", 2, "one-sided")
    cfg.reg.lam_rdir = 0.5
    assert next(c for c in build_method(cfg).components if c.name == "refusal_direction").lam == 0.5
    cfg.method = "alignguard-kl"
    assert list(build_method(cfg).names()) == ["penalties", "kl_anchor"]


def test_by_default_only_task_rows_are_held(peft_model, tiny_tokenizer):
    comp = RefusalDirection(1.0, batch_size=2, max_length=MAX_LEN, seed=0, source="stream")
    comp.prepare(_artifacts(tiny_tokenizer))
    comp.examples(list(TASK), seed=0)
    comp.before_training(peft_model)
    _, values = comp.penalty()
    assert comp.stream is None and values["rdir_harmful"] == 0.0 and values["rdir_task"] >= 0
    assert set(comp.state_dict()) == {"units", "gaps", "harmful_level", "task_position"}
    with pytest.raises(ValueError, match="no rows"):
        RefusalDirection(1.0, batch_size=2, max_length=MAX_LEN, seed=0, task="off")


def _task_projections(comp, model, rows) -> torch.Tensor:
    """``(B, L)`` projections ``<h_l, u_l>`` of ``rows``' last prompt token under ``model``."""
    batch = collate(rows, pad_id_of(comp.tokenizer))
    last = batch["attention_mask"].sum(1) - 1
    with torch.no_grad():
        hs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   output_hidden_states=True).hidden_states[1:]
    return torch.stack([(h[torch.arange(len(rows)), last] * u).sum(-1)
                        for h, u in zip(hs, comp.units, strict=True)], dim=1)


def test_cap_holds_task_rows_at_most_at_the_harmful_mean(peft_model, tiny_tokenizer):
    comp = RefusalDirection(2.0, batch_size=3, max_length=MAX_LEN, seed=0, source="stream",
                            cap="harmful")
    comp.prepare(_artifacts(tiny_tokenizer))
    comp.examples(list(TASK), seed=0)
    comp.before_training(peft_model)
    aligned = _aligned_copy(peft_model)
    level = (_states(aligned, tiny_tokenizer, ROWS[:6]).mean(0) * comp.units).sum(-1)
    torch.testing.assert_close(comp.harmful_level, level, atol=1e-4, rtol=1e-4)
    rows = [comp.task._row(i) for i in range(3)]
    p0, p = _task_projections(comp, aligned, rows), _task_projections(comp, peft_model, rows)
    comp.harmful_level = p0.min(0).values - 0.05  # every row beyond the "harmful mean": capped
    expected = torch.clamp(comp.harmful_level - p, min=0) / comp.gaps
    uncapped = torch.clamp(p0 - p, min=0) / comp.gaps
    _, values = comp.penalty()
    assert values["rdir_task"] == pytest.approx(float(expected.pow(2).mean()), rel=1e-4, abs=1e-8)
    assert float(uncapped.pow(2).mean()) > float(expected.pow(2).mean())  # the cap released rows
    with pytest.raises(ValueError, match="cap must be one of"):
        RefusalDirection(1.0, batch_size=2, max_length=MAX_LEN, seed=0, cap="harmless")


def test_alignment_rows_of_one_kind_are_refused(tiny_tokenizer):
    comp = RefusalDirection(1.0, batch_size=2, max_length=MAX_LEN, seed=0)
    artifacts = _artifacts(tiny_tokenizer)
    artifacts.examples = ROWS[6:]
    with pytest.raises(ValueError, match="both kinds"):
        comp.prepare(artifacts)


def test_batch_source_reads_the_task_forward_and_matches_a_hand_computation(peft_model, tiny_tokenizer):
    comp = RefusalDirection(2.0, batch_size=2, max_length=MAX_LEN, seed=0, source="batch")
    comp.prepare(_artifacts(tiny_tokenizer))
    comp.examples(list(TASK), seed=0)
    comp.before_training(peft_model)
    assert comp.task is None and comp.reads_hidden_states
    aligned = _aligned_copy(peft_model)
    batch = collate([encode_example(tiny_tokenizer, e, MAX_LEN) for e in TASK[:3]],
                    pad_id_of(tiny_tokenizer))
    out = peft_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     output_hidden_states=True)
    penalty, values = comp.task_penalty(peft_model, batch, out.hidden_states)
    # by hand: the first 2 rows, each prompt alone, both models
    theta = (_states(peft_model, tiny_tokenizer, TASK[:2]) * comp.units).sum(-1)
    ref = (_states(aligned, tiny_tokenizer, TASK[:2]) * comp.units).sum(-1)
    expected = 2.0 * torch.clamp(-(theta - ref) / comp.gaps, min=0).pow(2).mean()
    torch.testing.assert_close(penalty.detach(), expected, atol=1e-5, rtol=1e-4)
    assert values["rdir_task"] == pytest.approx(float(expected) / 2.0, rel=1e-4, abs=1e-7)
    assert float(expected) > 0  # B != 0 moved some prompt away from refusal
    penalty.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for n, p in peft_model.named_parameters() if "lora_B" in n)


@pytest.mark.parametrize("source", ["batch", "stream"])
def test_the_loop_runs_and_resumes_it_exactly(source, tmp_path, tiny_tokenizer):
    """Both sources through the real loop: logged every step, killed and resumed bit-exactly."""
    from tests.conftest import write_jsonl
    from tests.test_method_contract import ALIGN, _run, _trainable

    task = write_jsonl(tmp_path / "task.jsonl", [{"prompt": e.prompt, "response": e.response}
                                                 for e in TASK * 3])
    align = write_jsonl(tmp_path / "align.jsonl", ALIGN)

    def cfg(name, **kw):
        c = _cfg(tmp_path, task, align, "alignguard", name, replay_fraction=0.0, **kw)
        c.reg.lam_rdir, c.reg.rdir_source = 1.0, source
        return c

    full = _run(cfg("full"), tiny_tokenizer)
    rows = [json.loads(x) for x in (full.output_dir / "log.jsonl").read_text().splitlines()]
    assert all("reg/rdir_task" in r for r in rows)

    def crash(step, model):
        if step == 3:
            raise KeyboardInterrupt("simulated kill")

    crashed = cfg("crash", save_every=2)
    with pytest.raises(KeyboardInterrupt):
        _run(crashed, tiny_tokenizer, callbacks=[crash])
    a, b = _trainable(full), _trainable(_run(crashed, tiny_tokenizer))
    assert all(torch.equal(a[n], b[n]) for n in a)
