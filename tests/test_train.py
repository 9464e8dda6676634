"""The training loop: accumulation, resume, non-finite losses, artifacts, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from peft import PeftModel

from alignguard.alignment.basis import FisherMismatchError
from alignguard.alignment.fisher import estimate_alignment_fisher
from alignguard.data import read_examples
from alignguard.methods.objective import NonFiniteLossError
from alignguard.targets import TargetModuleError
from alignguard.training.config import TrainConfig
from alignguard.training.loop import train
from tests.conftest import make_tiny_model


def _cfg(tmp_path, data, **kw) -> TrainConfig:
    base = dict(model="tiny", data=str(data), output_dir=str(tmp_path / "run"), method="agl",
                steps=3, batch_size=8, lr=1e-2, warmup_steps=1, log_every=1, save_every=0,
                seed=0, max_length=48)
    base.update(kw)
    cfg = TrainConfig(**base)
    cfg.lora.r = 4
    cfg.reg.lam_A, cfg.reg.lam_T, cfg.reg.lam_NC = 1.0, 0.1, 0.1
    cfg.reg.gate = 0.0  # the fixture rows have no rejected replies; the gate has its own tests
    cfg.alignment.data, cfg.alignment.estimator = str(data), "empirical"
    return cfg


@pytest.fixture
def basis(tiny_tokenizer, tiny_jsonl):
    model = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    return estimate_alignment_fisher(model, read_examples(tiny_jsonl), tokenizer=tiny_tokenizer,
                                     max_rank=4, batch_size=8, progress=False)


def _run(cfg, tok, basis, **kw):
    model = make_tiny_model("llama", vocab_size=len(tok))
    return train(cfg, model=model, tokenizer=tok, basis=basis, progress=False, **kw)


def _lora_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def test_grad_accumulation_equals_one_big_batch(tiny_tokenizer, tiny_jsonl, basis):
    """k micro-batches give exactly the gradient (task + penalty) of one big batch."""
    from accelerate import Accelerator

    from alignguard.alignment.prepare import AlignmentArtifacts
    from alignguard.data import collate, encode_examples
    from alignguard.methods.registry import build_method
    from alignguard.training.loop import trainable_model
    from alignguard.training.step import optimizer_step

    cfg = TrainConfig(method="agl", max_grad_norm=1e9)
    cfg.reg.lam_A, cfg.reg.lam_T, cfg.reg.lam_NC = 1.0, 0.1, 0.1
    cfg.reg.riem_sample = 0  # exact E_riem: no per-call sampling
    rows = encode_examples(tiny_tokenizer, read_examples(tiny_jsonl)[:8], 48)
    grads = []
    for micro in ([rows], [rows[:3], rows[3:]], [rows[:2], rows[2:5], rows[5:]]):
        model = trainable_model(cfg, make_tiny_model("llama", vocab_size=len(tiny_tokenizer)), "lora")
        with torch.no_grad():  # a non-zero update so every term has a gradient
            for n, p in model.named_parameters():
                if "lora_B" in n:
                    p.normal_(0, 0.05, generator=torch.Generator().manual_seed(hash(n) % 1000))
        cfg.reg.gate = 0.0  # penalties only: the gate has its own tests
        method = build_method(cfg)
        method.prepare(AlignmentArtifacts(basis=basis))
        method.before_training(model)
        batches = [collate(m, tiny_tokenizer.pad_token_id) for m in micro]
        task, _, _ = optimizer_step(model, Accelerator(cpu=True), method, batches, cfg.max_grad_norm)
        grads.append((task, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (task0, g0), *rest = grads
    assert len(g0) > 0
    for task, g in rest:
        assert abs(task - task0) < 1e-5
        for name in g0:
            torch.testing.assert_close(g[name], g0[name], rtol=1e-4, atol=1e-7)


def test_grad_accumulation_end_to_end_training_matches(tmp_path, tiny_tokenizer, tiny_jsonl, basis):
    big = _run(_cfg(tmp_path / "a", tiny_jsonl, steps=2), tiny_tokenizer, basis)
    small = _run(_cfg(tmp_path / "b", tiny_jsonl, steps=2, batch_size=4, grad_accum=2),
                 tiny_tokenizer, basis)
    a, b = _lora_state(big.model), _lora_state(small.model)
    assert a.keys() == b.keys() and len(a) > 0
    for name in a:  # Adam's first steps are ~sign(g): near-zero gradients amplify float noise
        rel = float((a[name] - b[name]).norm() / a[name].norm().clamp_min(1e-12))
        assert rel < 1e-2, (name, rel)
    assert abs(big.history[0]["task_loss"] - small.history[0]["task_loss"]) < 1e-5


def test_only_lora_weights_change_and_adapter_loads_with_stock_peft(tmp_path, tiny_tokenizer,
                                                                   tiny_jsonl, basis):
    result = _run(_cfg(tmp_path, tiny_jsonl), tiny_tokenizer, basis)
    fresh = make_tiny_model("llama", vocab_size=len(tiny_tokenizer))
    trained_base = {n.replace("base_model.model.", "").replace(".base_layer", ""): p
                    for n, p in result.model.named_parameters() if "lora_" not in n}
    for name, p in fresh.named_parameters():
        assert torch.equal(p, trained_base[name]), name
    assert any(p.abs().sum() > 0 for n, p in _lora_state(result.model).items() if "lora_B" in n)
    loaded = PeftModel.from_pretrained(make_tiny_model("llama", vocab_size=len(tiny_tokenizer)),
                                       result.output_dir / "adapter")
    ids = torch.tensor([[5, 6, 7, 8]])
    result.model.eval()
    torch.testing.assert_close(loaded(input_ids=ids).logits, result.model(input_ids=ids).logits)


def test_run_folder_has_config_provenance_and_every_term_logged(tmp_path, tiny_tokenizer,
                                                                tiny_jsonl, basis):
    result = _run(_cfg(tmp_path, tiny_jsonl), tiny_tokenizer, basis)
    out = result.output_dir
    config = json.loads((out / "config.json").read_text())
    assert config["resolved_reg"]["lam_A"] == 1.0 and config["seed"] == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert len(prov["data_fingerprints"]["task"]) == 64 and prov["seed"] == 0
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    for key in ("reg/fisher", "reg/task", "reg/collision", "reg/geodesic", "reg/riemannian"):
        assert key in rows[-1] and torch.isfinite(torch.tensor(rows[-1][key]))
    assert rows[-1]["reg/fisher"] > 0


def test_resume_after_interruption_matches_uninterrupted(tmp_path, tiny_tokenizer, tiny_jsonl, basis):
    full = _run(_cfg(tmp_path / "full", tiny_jsonl, steps=4), tiny_tokenizer, basis)

    def crash(step, model):
        if step == 3:
            raise KeyboardInterrupt("simulated crash")

    cfg = _cfg(tmp_path / "crash", tiny_jsonl, steps=4, save_every=2)
    with pytest.raises(KeyboardInterrupt):
        _run(cfg, tiny_tokenizer, basis, callbacks=[crash])
    assert not (cfg_out := tmp_path / "crash" / "run" / "adapter").exists(), cfg_out
    resumed = _run(cfg, tiny_tokenizer, basis)
    a, b = _lora_state(full.model), _lora_state(resumed.model)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-7)
    steps = [json.loads(x)["step"] for x in (resumed.output_dir / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, tiny_tokenizer, tiny_jsonl, basis):
    def poison(step, model):
        if step == 2:
            with torch.no_grad():
                next(p for n, p in model.named_parameters() if "lora_B" in n).fill_(float("nan"))

    cfg = _cfg(tmp_path, tiny_jsonl, steps=5, save_every=2)
    with pytest.raises(NonFiniteLossError, match=r"'task' loss term became nan at step 3"):
        _run(cfg, tiny_tokenizer, basis, callbacks=[poison])
    ckpts = sorted((tmp_path / "run" / "checkpoints").iterdir())
    assert [c.name for c in ckpts] == ["step-000002"]
    from safetensors.torch import load_file

    saved = load_file(str(ckpts[0] / "trainable.safetensors"))
    assert all(torch.isfinite(t).all() for t in saved.values())
    assert not (tmp_path / "run" / "adapter").exists()


def test_unknown_target_modules_error(tmp_path, tiny_tokenizer, tiny_jsonl):
    cfg = _cfg(tmp_path, tiny_jsonl, method="lora")
    cfg.lora.target_modules = ["query_key_value"]
    with pytest.raises(TargetModuleError, match="Linear modules found"):
        _run(cfg, tiny_tokenizer, None)


def test_unknown_target_modules_fail_before_the_weights_load(tmp_path, tiny_model_dir, tiny_jsonl,
                                                             monkeypatch):
    """The preflight builds the architecture on the meta device from the folder's config: a
    wrong module name is reported without reading the weights, and a right one passes."""
    import transformers

    from alignguard.training.preflight import check_inputs

    def no_weights(*args, **kwargs):
        raise AssertionError("the preflight read the weights")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_weights)
    cfg = TrainConfig(model=str(tiny_model_dir), data=str(tiny_jsonl), method="lora", device="cpu")
    cfg.lora.target_modules = ["query_key_value"]
    with pytest.raises(TargetModuleError, match=r"\['query_key_value'\] not found.*q_proj"):
        check_inputs(cfg)
    cfg.lora.target_modules = "attention"
    check_inputs(cfg)


def test_fisher_from_another_model_is_rejected(tmp_path, tiny_tokenizer, tiny_jsonl):
    other = make_tiny_model("llama", vocab_size=len(tiny_tokenizer), seed=123)
    foreign = estimate_alignment_fisher(other, read_examples(tiny_jsonl), tokenizer=tiny_tokenizer,
                                        max_rank=4, batch_size=8, progress=False)
    with pytest.raises(FisherMismatchError, match="different model"):
        _run(_cfg(tmp_path, tiny_jsonl), tiny_tokenizer, foreign)


def test_empty_dataset_is_a_clear_error(tmp_path, tiny_tokenizer):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    from alignguard.data import DataError

    with pytest.raises(DataError, match="is empty"):
        _run(_cfg(tmp_path, empty, method="lora"), tiny_tokenizer, None)


def test_lr_schedules_are_transformers_schedulers(tiny_tokenizer):
    from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

    from alignguard.training.loop import lr_scheduler

    def lrs(make) -> list[float]:
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=2e-3)
        sched, out = make(opt), []
        for _ in range(25):
            out.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
        return out

    ours = lrs(lambda o: lr_scheduler(TrainConfig(steps=20, warmup_steps=4, lr=2e-3), o))
    assert ours == lrs(lambda o: get_cosine_schedule_with_warmup(o, 4, 20))
    assert ours[:5] == pytest.approx([0, 5e-4, 1e-3, 1.5e-3, 2e-3]) and ours[12] == pytest.approx(1e-3)
    const = lrs(lambda o: lr_scheduler(TrainConfig(steps=20, warmup_steps=4, lr_schedule="constant"), o))
    assert const == lrs(lambda o: get_constant_schedule_with_warmup(o, 4))
    assert all(v == 2e-3 for v in const[4:])
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="exponential")
