"""Config strictness, dataset validation, replay mixing, atomic artifacts."""

from __future__ import annotations

import json
import os

import pytest
import torch

from alignguard.artifacts import atomic_directory, atomic_write_json, provenance
from alignguard.config import ConfigError, from_dict, load_config, replace
from alignguard.data import (
    IGNORE_INDEX,
    DataError,
    Example,
    collate,
    encode_example,
    fingerprint_examples,
    iterate_batches,
    mix_replay,
    read_examples,
    write_examples,
)
from alignguard.training.config import TrainConfig


def test_unknown_config_key_is_rejected_with_allowed_keys(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("steps: 5\nreg:\n  lam_a: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['lam_a'\].*reg.*lam_A"):
        load_config(TrainConfig, cfg_file)


def test_config_yaml_round_trip_and_nested_override(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("steps: 7\nmethod: lora\nlora:\n  r: 4\n")
    cfg = load_config(TrainConfig, cfg_file)
    assert (cfg.steps, cfg.method, cfg.lora.r) == (7, "lora", 4)
    cfg2 = replace(cfg, reg__lam_A=3.5, lora__r=2)
    assert cfg2.reg.lam_A == 3.5 and cfg2.lora.r == 2 and cfg.lora.r == 4


def test_invalid_values_raise():
    with pytest.raises(ConfigError, match="unknown method"):
        from_dict(TrainConfig, {"method": "nope"})
    with pytest.raises(ConfigError, match="replay_fraction"):
        from_dict(TrainConfig, {"replay_fraction": 1.5})


def test_method_presets_resolve_weights():
    lora = from_dict(TrainConfig, {"method": "lora", "reg": {"lam_A": 5.0}}).resolved_reg()
    assert lora.lam_A == 0 and lora.lam_T == 0 and lora.lam_NC == 0
    agl = from_dict(TrainConfig, {"method": "agl", "reg": {"lam_A": 5.0}})
    from alignguard.methods.registry import build_method

    assert agl.resolved_reg().lam_A == 5.0 and "fisher" in build_method(agl).needs()
    assert not build_method(from_dict(TrainConfig, {"method": "lora"})).needs()
    ewc = from_dict(TrainConfig, {"method": "ewc"})
    assert ewc.resolved_reg().lam_ewc == 1.0 and ewc.resolved_reg().lam_A == 0  # really weighted
    assert from_dict(TrainConfig, {"method": "ewc", "reg": {"lam_ewc": 7}}).resolved_reg().lam_ewc == 7
    assert [c.name for c in build_method(from_dict(TrainConfig, {"method": "agl"})).components] == [
        "penalties", "gate"]
    with_replay = build_method(from_dict(TrainConfig, {"method": "lora", "replay_fraction": 0.1}))
    assert [c.name for c in with_replay.components] == ["penalties", "replay"]


def test_the_default_anchor_weights_follow_the_learning_rate_above_anchor_lr():
    """At and below ANCHOR_LR the preset's weights; above it default * ANCHOR_LR / lr, for the
    two anchors only; a weight the user sets is kept; the ablation keeps its weights."""
    from alignguard.methods.registry import ANCHOR_LR, KL_LAMBDA, build_method

    def reg(method="alignguard", **kw):
        return from_dict(TrainConfig, {"method": method, **kw}).resolved_reg()

    for lr in (ANCHOR_LR / 2, ANCHOR_LR):
        assert (reg(lr=lr).lam_kl, reg(lr=lr).lam_rdir) == (KL_LAMBDA, KL_LAMBDA)
    fast = reg(lr=2 * ANCHOR_LR)
    assert fast.lam_kl == pytest.approx(KL_LAMBDA / 2) and fast.lam_rdir == pytest.approx(KL_LAMBDA / 2)
    assert reg(lr=4 * ANCHOR_LR).lam_kl == pytest.approx(KL_LAMBDA / 4)
    assert fast.kl_refusal_tokens == reg().kl_refusal_tokens  # nothing else moves
    mine = reg(lr=2 * ANCHOR_LR, reg={"lam_kl": 3.0})
    assert mine.lam_kl == 3.0 and mine.lam_rdir == pytest.approx(KL_LAMBDA / 2)
    assert reg("alignguard-kl", lr=2 * ANCHOR_LR).lam_kl == KL_LAMBDA
    built = build_method(from_dict(TrainConfig, {"method": "alignguard", "lr": 2 * ANCHOR_LR}))
    kl = next(c for c in built.components if c.name == "kl_anchor")
    assert kl.lam == pytest.approx(KL_LAMBDA / 2)  # what the loop weights is the resolved one


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ('{"prompt": "a", "response": "b"}\nnot json\n', r":2: not valid JSON"),
        ('{"prompt": "a"}\n', r":1: missing or empty 'response'"),
        ('{"prompt": "  ", "response": "b"}\n', r":1: missing or empty 'prompt'"),
        ('[1, 2]\n', r":1: expected a JSON object"),
        ('{"prompt": "a", "response": "b", "rejected": ""}\n', r":1: 'rejected' must be"),
    ],
)
def test_bad_datasets_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_examples(path)


def test_messages_rows_are_accepted(tmp_path):
    path = tmp_path / "chat.jsonl"
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    path.write_text(json.dumps(row) + "\n")
    assert read_examples(path) == [Example("hi", "hello")]


def test_preference_rows_keep_the_rejected_reply(tmp_path):
    rows = [{"prompt": "p", "chosen": "no", "rejected": "sure"},
            {"prompt": "q", "response": "ok"}]
    path = tmp_path / "pref.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = read_examples(path)
    assert got == [Example("p", "no", "sure"), Example("q", "ok")]
    again = read_examples(write_examples(tmp_path / "again.jsonl", got))
    assert again == got and "rejected" not in (tmp_path / "again.jsonl").read_text().splitlines()[1]
    assert fingerprint_examples([Example("q", "ok")]) != fingerprint_examples([Example("q", "ok", "x")])


def test_encoding_masks_prompt_and_appends_eos(tiny_tokenizer):
    enc = encode_example(tiny_tokenizer, Example("how do I bake bread", "sure"), 64)
    assert enc["input_ids"][-1] == tiny_tokenizer.eos_token_id
    n_prompt = sum(1 for label in enc["labels"] if label == IGNORE_INDEX)
    assert 0 < n_prompt < len(enc["labels"])
    assert enc["labels"][n_prompt:] == enc["input_ids"][n_prompt:]
    everything = encode_example(tiny_tokenizer, Example("how do I bake bread", "sure"), 64, loss_on="all")
    assert IGNORE_INDEX not in everything["labels"]


def test_collate_pads_right_and_masks():
    batch = collate([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]},
                     {"input_ids": [8], "labels": [8]}], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"][1].tolist() == [8, -100, -100]


def test_batches_are_deterministic_and_resumable():
    encoded = [{"input_ids": [i], "labels": [i]} for i in range(10)]
    a = iterate_batches(encoded, 3, 0, seed=1)
    first = [next(a)["input_ids"].tolist() for _ in range(6)]
    b = iterate_batches(encoded, 3, 0, seed=1, start_batch=4)
    assert [next(b)["input_ids"].tolist() for _ in range(2)] == first[4:]
    c = iterate_batches(encoded, 3, 0, seed=2)
    assert [next(c)["input_ids"].tolist() for _ in range(6)] != first


def test_replay_mix_fraction():
    task = [Example(f"t{i}", "x") for i in range(90)]
    replay = [Example(f"r{i}", "I can't help with that.") for i in range(5)]
    mixed = mix_replay(task, replay, 0.1, seed=0)
    n_replay = sum(e.prompt.startswith("r") for e in mixed)
    assert n_replay == 10 and len(mixed) == 100
    assert mix_replay(task, replay, 0.1, seed=0) == mixed
    with pytest.raises(DataError):
        mix_replay(task, [], 0.1, seed=0)


def test_atomic_directory_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (target / "a.txt").read_text() == "1"
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("2")
        raise RuntimeError("boom")
    assert (target / "a.txt").read_text() == "1"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_atomic_json_and_provenance(tmp_path):
    path = atomic_write_json(tmp_path / "p.json", provenance(seed=3, data={"task": "abc"}))
    rec = json.loads(path.read_text())
    assert rec["seed"] == 3 and rec["data_fingerprints"] == {"task": "abc"}
    assert rec["packages"]["torch"].startswith(torch.__version__.split("+")[0])
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_atomic_files_get_normal_permissions(tmp_path):
    path = atomic_write_json(tmp_path / "x.json", {"a": 1})
    assert path.stat().st_mode & 0o044 == 0o044  # group/other readable, like any written file


def test_multi_turn_chats_keep_the_system_prompt_and_history(tmp_path, tiny_tokenizer):
    from alignguard.data import IGNORE_INDEX, encode_example, format_prompt

    row = {"messages": [{"role": "system", "content": "You are terse."},
                        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                        {"role": "user", "content": "Weather?"},
                        {"role": "assistant", "content": "cold"}]}
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps({"prompt": "p", "completion": "c"}) + "\n")
    chat, trl = read_examples(path)
    assert (chat.prompt, chat.response) == ("Weather?", "cold")
    assert chat.context == (("system", "You are terse."), ("user", "Hi"), ("assistant", "Hello"))
    assert (trl.prompt, trl.response) == ("p", "c")  # TRL prompt/completion rows
    text = format_prompt(tiny_tokenizer, chat.prompt, chat.context)
    assert text.index("You are terse.") < text.index("Hi") < text.index("Hello") < text.index("Weather?")
    enc = encode_example(tiny_tokenizer, chat, max_length=256)
    learned = [t for t, lab in zip(enc["input_ids"], enc["labels"], strict=True) if lab != IGNORE_INDEX]
    assert tiny_tokenizer.decode(learned).startswith("cold")  # loss on the final reply only
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "x"}]}) + "\n")
    with pytest.raises(DataError, match=":1: 'messages' must end with a user turn"):
        read_examples(bad)
