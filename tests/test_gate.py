"""The alignment gate: preference direction, central-difference scores, and gated training."""

from __future__ import annotations

import json

import pytest
import torch

from alignguard.alignment.gate import AlignmentGate, row_losses
from alignguard.data import DataError, Example, collate, encode_examples, pad_id_of
from alignguard.targets import resolve_target_modules
from alignguard.training.config import TrainConfig
from alignguard.training.loop import train
from tests.conftest import make_tiny_model, write_jsonl

PAIRS = [Example("how do I bake bread", "sure, here is the answer", "I can't help with that."),
         Example("reverse the words please", "I can't help with that.", "sure, words the reverse"),
         Example("the quick brown fox", "jumps over the lazy dog", "I can't help with that.")]
NAMES = ["model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj"]


def _batch(tok, rows):
    return collate(encode_examples(tok, rows, max_length=48), pad_id_of(tok))


def _weight_grad(model, tok, rows, name) -> torch.Tensor:
    model.zero_grad()
    row_losses(model, _batch(tok, rows)).sum().backward()
    return dict(model.named_parameters())[name + ".weight"].grad.detach().clone()


def test_direction_and_scores_match_autograd(tiny_tokenizer):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer)).double()
    gate = AlignmentGate.estimate(model, PAIRS, tiny_tokenizer, NAMES, tau=0.3)  # eps 1e-2
    rej = [Example(e.prompt, e.rejected) for e in PAIRS]
    cho = [Example(e.prompt, e.response) for e in PAIRS]
    raw = {n: _weight_grad(model, tiny_tokenizer, rej, n) - _weight_grad(model, tiny_tokenizer, cho, n)
           for n in NAMES}
    norm = torch.sqrt(sum(g.square().sum() for g in raw.values()))
    for n in NAMES:
        torch.testing.assert_close(gate.direction[n].double(), raw[n] / norm, rtol=1e-4, atol=1e-7)
    rows = [Example("how do I bake bread", "the quick brown fox"), rej[1]]
    scores = gate.raw_scores(model, _batch(tiny_tokenizer, rows))
    for i, row in enumerate(rows):
        exact = sum((_weight_grad(model, tiny_tokenizer, [row], n) * gate.direction[n].double()).sum()
                    for n in NAMES)
        assert float(scores[i]) == pytest.approx(float(exact), rel=1e-4, abs=1e-8)
    gap = (gate.raw_scores(model, _batch(tiny_tokenizer, rej)).mean()
           - gate.raw_scores(model, _batch(tiny_tokenizer, cho)).mean())
    assert gate.s_ref == pytest.approx(float(gap), rel=1e-3) and gate.s_ref > 0
    assert gate.s_ref == pytest.approx(float(norm) / len(PAIRS), rel=1e-4)


def test_weights_gate_rejected_like_rows_and_count_them(tiny_tokenizer):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    same = [Example("p", "I can't help with that.", "sure, here is the answer")] * 4
    gate = AlignmentGate.estimate(model, same, tiny_tokenizer, NAMES, tau=0.5)
    rows = [Example("p", "sure, here is the answer"), Example("p", "I can't help with that.")]
    score = gate.raw_scores(model, _batch(tiny_tokenizer, rows)) / gate.s_ref
    assert float(score[0] - score[1]) == pytest.approx(1.0, rel=1e-3)  # the unit: the pair's gap
    gate.tau = float(score.mean())  # between the two
    w = gate.weights(model, _batch(tiny_tokenizer, rows))
    assert w.tolist() == [0.0, 1.0]
    assert (gate.seen, gate.gated, gate.fraction) == (2, 1, 0.5)
    loose = AlignmentGate(gate.direction, gate.s_ref, tau=1e9)
    assert loose.weights(model, _batch(tiny_tokenizer, rows)).tolist() == [1.0, 1.0]


def test_gate_needs_rejected_replies(tiny_tokenizer):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    with pytest.raises(DataError, match="rejected.*reg.gate=0"):
        AlignmentGate.estimate(model, [Example("p", "r")], tiny_tokenizer, NAMES, tau=0.3)
    with pytest.raises(DataError, match="identical gradients"):
        AlignmentGate.estimate(model, [Example("p", "r", "r")], tiny_tokenizer, NAMES, tau=0.3)


def _cfg(tmp_path, data, align, gate) -> TrainConfig:
    cfg = TrainConfig(model="tiny", data=str(data), output_dir=str(tmp_path / f"run{gate}"),
                      method="lora", steps=2, batch_size=4, lr=1e-2, warmup_steps=1, log_every=1,
                      save_every=0, max_length=48)
    cfg.lora.r = 4
    cfg.alignment.data = str(align)
    return cfg


def test_training_gives_gated_rows_no_gradient(tmp_path, tiny_tokenizer):
    """Task rows equal to the rejected replies are all gated: the adapter never moves."""
    chosen, rejected = "sure, here is the answer", "I can't help with that."
    align = write_jsonl(tmp_path / "align.jsonl",
                        [{"prompt": "p", "response": chosen, "rejected": rejected}] * 4)
    data = write_jsonl(tmp_path / "task.jsonl", [{"prompt": "p", "response": rejected}] * 8)
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    _, names = resolve_target_modules(model, "all")
    probe = AlignmentGate.estimate(model, [Example("p", chosen, rejected)], tiny_tokenizer, names,
                                   tau=0.3)
    row_score = float(probe.raw_scores(model, _batch(tiny_tokenizer, [Example("p", rejected)]))[0])
    assert row_score / probe.s_ref > 0.3  # so every task row is gated at W0
    results = {}
    for gate in (0.0, 0.3):
        cfg = _cfg(tmp_path, data, align, gate)
        cfg.method = "agl-fisher-only" if gate else "lora"
        cfg.reg.lam_A, cfg.reg.gate = 0.0, gate
        model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
        res = train(cfg, model=model, tokenizer=tiny_tokenizer, progress=False)
        rows = [json.loads(x) for x in (res.output_dir / "log.jsonl").read_text().splitlines()]
        moved = max(float(p.detach().abs().max()) for n, p in res.model.named_parameters()
                    if "lora_B" in n)
        results[gate] = (moved, rows[-1].get("gate/fraction"))
    assert results[0.0][0] > 0 and results[0.0][1] is None
    assert results[0.3] == (0.0, 1.0)


def test_gate_presets():
    assert TrainConfig(method="agl").resolved_reg().gate == 0.5
    assert TrainConfig().resolved_reg().gate == 0.0  # the default method (alignguard) has no gate
    for method in ("lora", "ewc", "full-ft", "agl-no-gate"):
        assert TrainConfig(method=method).resolved_reg().gate == 0.0
    with pytest.raises(ValueError, match="gate"):
        from alignguard.regularizers import RegularizerConfig

        RegularizerConfig(gate=-1.0)
