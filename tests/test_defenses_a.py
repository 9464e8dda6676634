"""The published defenses, part A (replay, kl-anchor, safegrad, spf, lisa): each against a small
hand-written computation of its formula on a tiny model, and resume across the steps where
their state changes (lisa's phase switch, spf's refresh)."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from alignguard.alignment.prepare import AlignmentArtifacts
from alignguard.data import IGNORE_INDEX, Example
from alignguard.methods.alignstream import AlignmentStream, reply_nll
from alignguard.methods.anchors import KLAnchor
from alignguard.methods.components import Replay
from alignguard.methods.lisa import Lisa
from alignguard.methods.registry import build_method
from alignguard.methods.surgery import SafeGrad, SafetySubspace
from alignguard.targets import LoraSettings, attach_lora
from alignguard.training.config import TrainConfig
from tests.conftest import make_tiny_model, write_jsonl
from tests.test_method_contract import ALIGN, _cfg, _run, _trainable

ROWS = [Example(**r) for r in ALIGN]
MAX_LEN = 48


def _artifacts(tok) -> AlignmentArtifacts:
    return AlignmentArtifacts(examples=list(ROWS), tokenizer=tok)


def _twin(tok, batch_size: int) -> AlignmentStream:
    """The same stream a component with seed 0 draws from (to rebuild its batch by hand)."""
    return AlignmentStream(ROWS, tok, batch_size=batch_size, max_length=MAX_LEN, seed=0)


def _lora(model) -> list[torch.nn.Parameter]:
    return [p for _, p in model.named_parameters() if p.requires_grad]


def _aligned_copy(model) -> torch.nn.Module:
    """An independent copy of ``W0``: the base model with every LoRA ``B`` zeroed by hand."""
    aligned = copy.deepcopy(model.get_base_model())
    for module in aligned.modules():
        if hasattr(module, "lora_B"):
            for b in module.lora_B.values():
                torch.nn.init.zeros_(b.weight)
    return aligned


def _hand_kl(ref_model, model, batch) -> torch.Tensor:
    """KL(p_ref || p_theta), explicit sum over the vocabulary, mean over reply tokens."""
    kw = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        ref = ref_model(**kw).logits.float()
    theta = model(**kw).logits.float()
    total, count = torch.zeros(()), 0
    for b in range(batch["input_ids"].shape[0]):
        for t in range(batch["input_ids"].shape[1] - 1):
            if batch["labels"][b, t + 1] == IGNORE_INDEX:
                continue
            p = torch.softmax(ref[b, t], -1)
            total = total + (p * (torch.log(p) - torch.log_softmax(theta[b, t], -1))).sum()
            count += 1
    return total / count


def _hand_nll(model, batch) -> torch.Tensor:
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    terms = [-torch.log_softmax(logits[b, t].float(), -1)[batch["labels"][b, t + 1]]
             for b in range(logits.shape[0]) for t in range(logits.shape[1] - 1)
             if batch["labels"][b, t + 1] != IGNORE_INDEX]
    return torch.stack(terms).mean()


def test_replay_preset_defaults_its_fraction_and_records_it(tmp_path):
    cfg = TrainConfig(method="replay")
    replay = [c for c in build_method(cfg).components if isinstance(c, Replay)]
    assert len(replay) == 1 and replay[0].fraction == pytest.approx(0.1)
    assert cfg.resolved()["resolved_replay_fraction"] == pytest.approx(0.1)
    assert cfg.resolved()["replay_fraction"] == 0.0  # the user's value, unchanged
    own = TrainConfig(method="replay", replay_fraction=0.3)
    assert [c.fraction for c in build_method(own).components if isinstance(c, Replay)] == [0.3]
    plain = TrainConfig(method="lora")
    assert not any(isinstance(c, Replay) for c in build_method(plain).components)
    assert "resolved_replay_fraction" not in plain.resolved()  # recorded only when a preset sets it
    assert TrainConfig(method="kl-anchor").resolved_reg().lam_kl == 1.0
    assert TrainConfig(method="safegrad").resolved_reg().lam_kl == 1.0


@pytest.mark.parametrize("method,names", [
    ("replay", ["penalties", "replay"]), ("kl-anchor", ["penalties", "kl_anchor"]),
    ("safegrad", ["penalties", "safegrad"]), ("spf", ["penalties", "spf"]),
    ("lisa", ["penalties", "lisa"]),
])
def test_each_preset_is_plain_lora_plus_its_defense(method, names):
    cfg = TrainConfig(method=method)
    built = build_method(cfg)
    assert list(built.names()) == names and built.trains == "lora"
    reg = cfg.resolved_reg()
    assert reg.lam_A == reg.lam_T == reg.lam_NC == reg.gate == 0.0  # no AGL term, no gate
    assert built.needs() == (set() if method == "replay" else {"examples"})


def test_kl_anchor_equals_a_hand_written_kl_against_a_separate_aligned_copy(peft_model,
                                                                             tiny_tokenizer):
    aligned = _aligned_copy(peft_model)
    anchor = KLAnchor(0.5, batch_size=3, max_length=MAX_LEN, seed=0)
    anchor.prepare(_artifacts(tiny_tokenizer))
    anchor.before_training(peft_model)
    twin = _twin(tiny_tokenizer, 3)
    for _ in range(5):  # cycles past the end of the 12 rows (a new epoch's permutation)
        penalty, values = anchor.penalty()
        expected = _hand_kl(aligned, peft_model, twin.next("cpu"))
        assert float(expected.detach()) > 1e-4
        torch.testing.assert_close(penalty, 0.5 * expected, rtol=1e-4, atol=1e-6)
        assert values["kl"] == pytest.approx(float(expected), rel=1e-4)
    # the gradient flows into the LoRA factors only
    penalty.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in
               peft_model.named_parameters() if "lora_B" in n)
    # the stream position resumes: a fresh anchor restored from the state draws the same batch
    again = KLAnchor(0.5, batch_size=3, max_length=MAX_LEN, seed=0)
    again.prepare(_artifacts(tiny_tokenizer))
    again.before_training(peft_model)
    again.load_state_dict(anchor.state_dict())
    assert again.penalty()[1]["kl"] == pytest.approx(anchor.penalty()[1]["kl"])


def test_lazy_kl_anchor_weights_every_kth_step_by_k_and_skips_the_rest(peft_model, tiny_tokenizer):
    eager = KLAnchor(0.5, batch_size=3, max_length=MAX_LEN, seed=0)
    lazy = KLAnchor(0.5, batch_size=3, max_length=MAX_LEN, seed=0, every=3)
    for anchor in (eager, lazy):
        anchor.prepare(_artifacts(tiny_tokenizer))
        anchor.before_training(peft_model)
    for step in range(7):
        penalty, values = lazy.penalty()
        if step % 3:
            assert float(penalty) == 0.0 and not penalty.requires_grad
            assert lazy.stream.position == eager.stream.position  # no rows drawn in between
        else:
            expected, _ = eager.penalty()  # the same batch: both streams advance together
            torch.testing.assert_close(penalty, 3 * expected, rtol=1e-5, atol=1e-7)
            assert values["kl"] == pytest.approx(float(expected.detach()) / 0.5, rel=1e-5)
    restored = KLAnchor(0.5, batch_size=3, max_length=MAX_LEN, seed=0, every=3)
    restored.prepare(_artifacts(tiny_tokenizer))
    restored.before_training(peft_model)
    restored.load_state_dict(lazy.state_dict())
    assert restored.calls == 7 and float(restored.penalty()[0]) == 0.0  # step 8 is not anchored
    with pytest.raises(ValueError, match="interval"):
        KLAnchor(0.5, batch_size=3, max_length=MAX_LEN, seed=0, every=0)


def _kl_anchor(method) -> KLAnchor:
    return next(c for c in method.components if c.name == "kl_anchor")


def test_alignguard_preset_is_a_small_every_step_anchor_and_the_user_can_change_it():
    from alignguard.methods.registry import ALIGN_BATCH, ALIGNGUARD_ALIGN_BATCH

    cfg = TrainConfig(method="alignguard")
    anchor = _kl_anchor(build_method(cfg))
    assert isinstance(anchor, KLAnchor) and anchor.every == 1
    assert anchor.batch_size == ALIGNGUARD_ALIGN_BATCH < ALIGN_BATCH
    reg = cfg.resolved_reg()
    assert reg.lam_kl == 1.0 and reg.lam_A == reg.gate == 0.0 and reg.kl_contexts > 0
    cfg.reg.kl_every, cfg.reg.align_batch = 2, 5
    assert (_kl_anchor(build_method(cfg)).every, _kl_anchor(build_method(cfg)).batch_size) == (2, 5)
    plain = build_method(TrainConfig(method="kl-anchor")).components[-1]
    assert (plain.every, plain.batch_size, plain.contexts) == (1, ALIGN_BATCH, 0)


def test_kl_anchor_is_zero_at_the_aligned_weights(tiny_tokenizer):
    model = attach_lora(make_tiny_model("llama", vocab_size=len(tiny_tokenizer)),
                        LoraSettings(r=4, init_seed=0))  # B = 0: theta is the aligned model
    anchor = KLAnchor(1.0, batch_size=4, max_length=MAX_LEN, seed=0)
    anchor.prepare(_artifacts(tiny_tokenizer))
    anchor.before_training(model)
    assert abs(float(anchor.penalty()[0])) < 1e-6


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_safegrad_projects_by_hand_only_when_the_gradients_conflict(lam, peft_model, tiny_tokenizer):
    aligned = _aligned_copy(peft_model)
    params = _lora(peft_model)
    comp = SafeGrad(lam, batch_size=4, max_length=MAX_LEN, seed=0)
    comp.prepare(_artifacts(tiny_tokenizer))
    comp.before_training(peft_model)
    twin = _twin(tiny_tokenizer, 4)
    gen = torch.Generator().manual_seed(2)
    for conflict in (True, False):
        batch = twin.next("cpu")
        grads = torch.autograd.grad(_hand_kl(aligned, peft_model, batch), params, allow_unused=True)
        g_a = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                         for g, p in zip(grads, params, strict=True)])
        sign = -1.0 if conflict else 1.0
        g = sign * g_a + 0.1 * g_a.norm() * torch.randn(g_a.shape, generator=gen) / g_a.numel() ** 0.5
        offset = 0
        for p in params:
            p.grad = g[offset:offset + p.numel()].view_as(p).clone()
            offset += p.numel()
        values = comp.on_gradients(peft_model)
        got = torch.cat([p.grad.flatten() for p in params])
        dot = float(g @ g_a)
        expected = (g - dot / float(g_a @ g_a) * g_a if dot < 0 else g) + lam * g_a
        assert (dot < 0) == conflict and values["safegrad/projected"] == float(conflict)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-7)
        if conflict:  # the projected task part is orthogonal to g_a
            projected = got - lam * g_a
            assert abs(float(projected @ g_a)) < 1e-4 * float(g.norm() * g_a.norm())
    assert comp.state_dict() == {"position": 8, "steps": 2, "projected": 1}


def _per_example_grads(model, batches) -> torch.Tensor:
    """Per-example reply-NLL gradients by ``backward`` into ``.grad`` (the component uses
    ``autograd.grad``)."""
    params, rows = _lora(model), []
    for batch in batches:
        for p in params:
            p.grad = None
        _hand_nll(model, batch).backward()
        rows.append(torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                               for p in params]))
    for p in params:
        p.grad = None
    return torch.stack(rows)


def test_spf_subspace_and_projection_against_an_eigendecomposition(peft_model, tiny_tokenizer):
    comp = SafetySubspace(rank=3, n_examples=5, refresh=2, max_length=MAX_LEN, seed=0)
    comp.prepare(_artifacts(tiny_tokenizer))
    comp.before_training(peft_model)
    twin = _twin(tiny_tokenizer, 1)
    grads = _per_example_grads(peft_model, [twin.next("cpu") for _ in range(5)])
    # top-3 right singular vectors from the eigenvectors of the small Gram matrix G G^T
    evals, evecs = torch.linalg.eigh(grads.double() @ grads.double().T)
    top = evecs[:, -3:].flip(1)
    vecs = (grads.double().T @ top) / evals[-3:].flip(0).sqrt()
    vecs = vecs * torch.sign(vecs.T @ grads.double().mean(0))  # oriented toward the mean gradient
    g = torch.randn(grads.shape[1], generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    offset = 0
    for p in _lora(peft_model):
        p.grad = g[offset:offset + p.numel()].view_as(p).float().clone()
        offset += p.numel()
    values = comp.on_gradients(peft_model)
    torch.testing.assert_close(comp.basis.double().T, vecs, rtol=1e-3, atol=1e-4)
    expected = g.clone()
    for j in range(3):
        c = float(g @ vecs[:, j])
        if c < 0:
            expected -= c * vecs[:, j]
    got = torch.cat([p.grad.flatten() for p in _lora(peft_model)]).double()
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-5)
    assert values["spf/conflicts"] == float(sum(float(g @ vecs[:, j]) < 0 for j in range(3)))
    assert (vecs.T @ got >= -1e-5).all()  # no coordinate left that raises the refusal loss
    # refreshed every 2 steps: 5 rows drawn at steps 0 and 2, none at step 1
    comp.on_gradients(peft_model)
    assert comp.stream.position == 5
    comp.on_gradients(peft_model)
    assert comp.stream.position == 10 and comp.state_dict()["steps"] == 3


def test_reply_nll_of_a_batch_without_reply_tokens_is_zero_not_nan(peft_model, tiny_tokenizer):
    batch = _twin(tiny_tokenizer, 2).next("cpu")
    batch["labels"][:] = IGNORE_INDEX  # the prompt filled max_length: no reply token left
    loss = reply_nll(peft_model, batch)
    loss.backward()
    assert float(loss) == 0.0 and all(torch.isfinite(p.grad).all() for p in _lora(peft_model))


def test_lisa_phases_switch_point_and_penalty_by_hand(peft_model, tiny_tokenizer):
    comp = Lisa(rho=0.7, align_steps=2, task_steps=1, batch_size=2, max_length=MAX_LEN, seed=0)
    comp.prepare(_artifacts(tiny_tokenizer))
    comp.before_training(peft_model)
    start = [p.detach().clone() for p in _lora(peft_model)]
    twin = _twin(tiny_tokenizer, 2)
    losses = torch.ones(4)
    switch = start
    for step, aligning in enumerate([True, True, False, True, True, False]):
        weights = comp.row_weights(peft_model, {}, losses)
        assert (weights is not None and not weights.any()) if aligning else weights is None
        if step in (2, 3, 5):  # the first step of a new phase: w_switch = the weights now
            switch = [p.detach().clone() for p in _lora(peft_model)]
        penalty, values = comp.penalty()
        prox = sum(((p - w) ** 2).sum() for p, w in zip(_lora(peft_model), switch, strict=True))
        expected = 0.35 * prox + (_hand_nll(peft_model, twin.next("cpu")) if aligning else 0.0)
        torch.testing.assert_close(penalty, expected, rtol=1e-5, atol=1e-7)
        assert values["lisa_nll"] > 0 if aligning else values["lisa_nll"] == 0.0
        with torch.no_grad():  # an "optimizer step"
            for p in _lora(peft_model):
                p.add_(0.01 * torch.randn_like(p))
    assert comp.switches == 3 and comp.stream.position == 8
    state = comp.state_dict()
    again = Lisa(rho=0.7, align_steps=2, task_steps=1, batch_size=2, max_length=MAX_LEN, seed=0)
    again.prepare(_artifacts(tiny_tokenizer))
    again.before_training(peft_model)
    again.load_state_dict(state)
    torch.testing.assert_close(again.penalty()[0], comp.penalty()[0])


@pytest.mark.parametrize("method,reg", [
    ("lisa", {"lisa_align_steps": 2, "lisa_task_steps": 2, "align_batch": 2}),
    ("spf", {"spf_refresh": 2, "spf_examples": 3, "spf_rank": 2}),
    ("kl-anchor", {"align_batch": 5}),
    ("alignguard", {"align_batch": 2, "kl_every": 2}),
])
def test_resume_is_exact_across_phase_switches_and_refreshes(method, reg, tmp_path, tiny_tokenizer):
    task = write_jsonl(tmp_path / "task.jsonl", [{"prompt": f"reverse the words {i} please",
                                                  "response": f"please words the reverse {i}"}
                                                 for i in range(12)])
    align = write_jsonl(tmp_path / "align.jsonl", ALIGN)

    def config(name, **kw):
        cfg = _cfg(tmp_path, task, align, method, name, replay_fraction=0.0, steps=4, **kw)
        for key, value in reg.items():
            setattr(cfg.reg, key, value)
        return cfg

    full = _run(config("full"), tiny_tokenizer)
    crashed = config("crash", save_every=3)

    def crash(step, model):
        if step == 4:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        _run(crashed, tiny_tokenizer, callbacks=[crash])
    resumed = _run(crashed, tiny_tokenizer)
    a, b = _trainable(full), _trainable(resumed)
    assert all(torch.equal(a[n], b[n]) for n in a)
    rows = [json.loads(x) for x in (resumed.output_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    if method == "lisa":
        assert [r["lisa/aligning"] for r in rows] == [1.0, 1.0, 0.0, 0.0]
        assert rows[-1]["lisa/switches"] == 1.0  # resumed mid-phase: w_switch came from the checkpoint


def test_a_run_folder_without_the_derived_replay_key_continues_but_a_changed_fraction_does_not(
        tmp_path):
    from alignguard.artifacts import atomic_write_json
    from alignguard.training.runs import RunFolder, RunFolderError

    cfg = TrainConfig(method="replay", output_dir=str(tmp_path / "run"))
    old = cfg.resolved()
    del old["resolved_replay_fraction"]  # written before the key existed
    (tmp_path / "run").mkdir()
    atomic_write_json(tmp_path / "run" / "config.json", old)
    with RunFolder(tmp_path / "run", cfg).claim():
        pass
    other = TrainConfig(method="replay", output_dir=str(tmp_path / "run"), replay_fraction=0.2)
    with pytest.raises(RunFolderError, match="replay_fraction"), RunFolder(tmp_path / "run", other).claim():
        pass


@pytest.mark.parametrize("make", [
    lambda: SafeGrad(1.0, batch_size=2, max_length=MAX_LEN, seed=0),
    lambda: SafetySubspace(rank=1, n_examples=2, refresh=1, max_length=MAX_LEN, seed=0),
])
def test_surgery_draws_no_random_numbers_even_with_lora_dropout(make, tiny_tokenizer):
    """DDP replicas must project with the same vector: no dropout draw, training mode restored."""
    model = attach_lora(make_tiny_model("llama", vocab_size=len(tiny_tokenizer)),
                        LoraSettings(r=4, dropout=0.5, init_seed=0))
    model.train()
    comp = make()
    comp.prepare(_artifacts(tiny_tokenizer))
    comp.before_training(model)
    for p in _lora(model):
        p.grad = torch.ones_like(p)
    before = torch.get_rng_state()
    comp.on_gradients(model)
    assert torch.equal(before, torch.get_rng_state()) and model.training


def test_context_matched_anchor_also_draws_alignment_rows_under_the_task_system_prompts(
        peft_model, tiny_tokenizer):
    from alignguard.data import Example
    from alignguard.methods.anchors import matched_systems

    obey, other = ("system", "You always obey."), ("system", "Be brief.")
    task = [Example("q1", "a1", context=(obey,)), Example("q2", "a2", context=(obey,)),
            Example("q3", "a3", context=(other, ("user", "hi"), ("assistant", "hello"))),
            Example("q4", "a4")]
    assert matched_systems(task, 8) == [(obey,), (other,)]  # by frequency, user turns dropped
    assert matched_systems(task, 1) == [(obey,)] and matched_systems(task, 0) == []
    anchor = KLAnchor(1.0, batch_size=4, max_length=512, seed=0, contexts=1)
    artifacts = _artifacts(tiny_tokenizer)
    anchor.prepare(artifacts)
    plain = len(anchor.stream.encoded)
    assert anchor.examples(task, 0) == task  # the task rows are not changed
    assert len(anchor.stream.encoded) == 2 * plain and anchor.systems == 1
    in_context = anchor.stream.encoded[plain]["input_ids"]
    assert len(in_context) > len(anchor.stream.encoded[0]["input_ids"])  # the system turn is in
    anchor.before_training(peft_model)
    assert torch.isfinite(anchor.penalty()[0]) and anchor.log_values()["kl_anchor/system_prompts"] == 1
    short = KLAnchor(1.0, batch_size=4, max_length=MAX_LEN, seed=0, contexts=1)
    short.prepare(artifacts)
    short.examples(task, 0)  # rows whose reply the system prompt pushes out are left out
    assert plain <= len(short.stream.encoded) < 2 * plain
    untouched = KLAnchor(1.0, batch_size=4, max_length=MAX_LEN, seed=0)
    untouched.prepare(artifacts)
    untouched.examples(task, 0)
    assert len(untouched.stream.encoded) == plain  # kl-anchor as published: no context matching


def test_kl_tokens_anchors_only_the_opening_of_each_reply(peft_model, tiny_tokenizer):
    from alignguard.methods.alignstream import first_reply_tokens

    row = {"input_ids": [5, 6, 7, 8, 9, 10], "labels": [IGNORE_INDEX, IGNORE_INDEX, 7, 8, 9, 10]}
    assert first_reply_tokens(row, 2) == {"input_ids": [5, 6, 7, 8], "labels": [IGNORE_INDEX, IGNORE_INDEX, 7, 8]}
    assert first_reply_tokens(row, 4) == row and first_reply_tokens(row, 9) == row
    artifacts = _artifacts(tiny_tokenizer)
    whole = KLAnchor(1.0, batch_size=4, max_length=MAX_LEN, seed=0)
    cut = KLAnchor(1.0, batch_size=4, max_length=MAX_LEN, seed=0, reply_tokens=3)
    for anchor in (whole, cut):
        anchor.prepare(artifacts)
        anchor.examples([], 0)
    for a, b in zip(whole.stream.encoded, cut.stream.encoded, strict=True):
        kept = [t for t in b["labels"] if t != IGNORE_INDEX]
        assert kept == [t for t in a["labels"] if t != IGNORE_INDEX][:3]
        assert b["input_ids"] == a["input_ids"][:len(b["input_ids"])]  # the prompt is whole
    cfg = TrainConfig(method="kl-anchor")
    cfg.reg.kl_tokens = 3
    assert build_method(cfg).components[-1].reply_tokens == 3
    cut.before_training(peft_model)
    assert torch.isfinite(cut.penalty()[0])


def test_kl_augment_anchors_seeded_word_dropout_copies_of_each_prompt(peft_model, tiny_tokenizer):
    from alignguard.methods.anchors import perturbed_prompts

    rows = [Example("how do I pick a lock on my neighbours door", "I can't help with that."),
            Example("two words", "No.")]
    copies = perturbed_prompts(rows, 3, seed=0)
    assert len(copies) == 6 and copies == perturbed_prompts(rows, 3, seed=0)  # seeded
    assert copies != perturbed_prompts(rows, 3, seed=1)
    for i, e in enumerate(copies):
        source = rows[i % 2]
        assert e.response == source.response and e.context == source.context
        words = e.prompt.split()
        assert 2 <= len(words) <= len(source.prompt.split())
        it = iter(source.prompt.split())
        assert all(w in it for w in words)  # a subsequence: words dropped, never reordered
    assert any(len(e.prompt.split()) < 9 for e in copies[::2])  # something was dropped
    artifacts = _artifacts(tiny_tokenizer)
    anchor = KLAnchor(1.0, batch_size=4, max_length=512, seed=0, augment=2)
    anchor.prepare(artifacts)
    plain = len(anchor.stream.encoded)
    anchor.examples([], 0)
    assert len(anchor.stream.encoded) == 3 * plain
    cfg = TrainConfig(method="alignguard")
    cfg.reg.kl_augment = 2
    assert _kl_anchor(build_method(cfg)).augment == 2
    anchor.before_training(peft_model)
    assert torch.isfinite(anchor.penalty()[0])


def test_kl_refusal_tokens_anchor_refusals_further_than_the_other_replies(peft_model, tiny_tokenizer):
    """``kl_refusal_tokens`` keeps that many reply tokens of the refusal rows (keyword judge) and
    ``kl_tokens`` of the others; 0 leaves every row at ``kl_tokens``."""
    from alignguard.methods.alignstream import reply_spans

    rows = [Example("How do I pick a lock?", "I can't help with that. It could harm someone, so I won't."),
            Example("Name a fruit.", "Apples are a fruit that many people enjoy eating every day.")]
    assert reply_spans(rows, 3, 0) == [3, 3]
    assert reply_spans(rows, 3, 256) == [256, 3]
    artifacts = AlignmentArtifacts(examples=rows, tokenizer=tiny_tokenizer)
    whole = KLAnchor(1.0, batch_size=2, max_length=MAX_LEN, seed=0)
    split = KLAnchor(1.0, batch_size=2, max_length=MAX_LEN, seed=0, reply_tokens=3, refusal_tokens=256)
    for anchor in (whole, split):
        anchor.prepare(artifacts)
    kept = [[t for t in r["labels"] if t != IGNORE_INDEX] for r in split.stream.encoded]
    full = [[t for t in r["labels"] if t != IGNORE_INDEX] for r in whole.stream.encoded]
    assert kept[0] == full[0] and kept[1] == full[1][:3] and len(full[1]) > 3
    cfg = TrainConfig(method="alignguard")
    cfg.reg.kl_refusal_tokens = 256
    anchor = next(c for c in build_method(cfg).components if isinstance(c, KLAnchor))
    assert (anchor.refusal_tokens, anchor.reply_tokens) == (256, 4)
    from alignguard.regularizers.config import RegularizerConfig

    with pytest.raises(ValueError, match="kl_refusal_tokens"):
        RegularizerConfig(kl_refusal_tokens=-1)


def test_kl_split_tail_averages_openings_and_tails_apart():
    """With ``opening = k`` the KL is the mean over each row's first ``k`` reply tokens plus the
    mean over the rest; without it, one mean over all reply tokens (checked against a direct sum)."""
    from alignguard.methods.alignstream import kl_to_reference

    class Fixed(torch.nn.Module):  # logits given per position, no parameters needed
        def __init__(self, logits):
            super().__init__()
            self.logits = logits

        def forward(self, input_ids, attention_mask):
            return type("Out", (), {"logits": self.logits})()

    torch.manual_seed(0)
    labels = torch.tensor([[IGNORE_INDEX, 1, 2, 3, 4, 5], [IGNORE_INDEX, 1, 2, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]])
    batch = {"input_ids": torch.zeros_like(labels), "attention_mask": torch.ones_like(labels), "labels": labels}
    q, p = torch.randn(2, 6, 7), torch.randn(2, 6, 7)
    ref = torch.log_softmax(p[:, :-1][labels[:, 1:] != IGNORE_INDEX], -1)
    per = (ref.exp() * (ref - torch.log_softmax(q[:, :-1][labels[:, 1:] != IGNORE_INDEX], -1))).sum(-1)
    # reply tokens in order: row 0 ranks 0-4, row 1 ranks 0-1; openings of 2 are ranks 0-1
    head = torch.tensor([True, True, False, False, False, True, True])
    pooled = kl_to_reference(Fixed(q), batch, ref)
    split = kl_to_reference(Fixed(q), batch, ref, opening=2)
    assert torch.allclose(pooled, per.mean(), atol=1e-6)
    assert torch.allclose(split, per[head].mean() + per[~head].mean(), atol=1e-6)
    assert torch.allclose(kl_to_reference(Fixed(q), batch, ref, opening=5), per.mean(), atol=1e-6)
    def anchor_of(method, **reg):
        cfg = TrainConfig(method=method)
        for key, value in reg.items():
            setattr(cfg.reg, key, value)
        return next(c for c in build_method(cfg).components if isinstance(c, KLAnchor))

    default = anchor_of("alignguard")  # the default: openings of 4, refusals whole, apart
    assert (default.reply_tokens, default.refusal_tokens, default.split_tail) == (4, 256, True)
    assert anchor_of("alignguard", kl_split_tail=False).split_tail is False  # a choice, kept
    assert anchor_of("alignguard", kl_refusal_tokens=16).refusal_tokens == 16
    assert anchor_of("kl-anchor").split_tail is False and anchor_of("kl-anchor").refusal_tokens == 0
    with pytest.raises(ValueError, match="kl_split_tail"):
        anchor_of("kl-anchor", kl_split_tail=True)  # no tails to average apart


def test_reply_logits_project_only_the_reply_positions_with_the_same_values_and_gradients(
        peft_model, tiny_tokenizer):
    from alignguard.methods.alignstream import _reply_logits, keeps_positions

    batch = _twin(tiny_tokenizer, 3).next("cpu")
    mask = batch["labels"][:, 1:] != IGNORE_INDEX
    assert keeps_positions(peft_model) and 0 < int(mask.sum()) < mask.numel()
    seen = []
    hook = peft_model.get_output_embeddings().register_forward_hook(
        lambda module, args, out: seen.append(tuple(args[0].shape)))
    fast, labels = _reply_logits(peft_model, batch)
    hook.remove()
    assert seen == [(int(mask.sum()), peft_model.config.hidden_size)]  # reply positions only
    full = peft_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(fast, full[:, :-1][mask].float(), rtol=1e-5, atol=1e-5)
    assert torch.equal(labels, batch["labels"][:, 1:][mask])
    weights = torch.randn_like(fast)
    grads = [torch.autograd.grad((x * weights).sum(), _lora(peft_model))
             for x in (fast, full[:, :-1][mask].float())]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
