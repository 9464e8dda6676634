"""The chat judge (a local chat model asked whether a reply refuses its request): its yes/no
log-odds against a direct forward pass, the request it reads, the threshold, names and the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from alignguard.drift.judges import JudgeBatch, get_judge, is_judge_name
from alignguard.drift.judges.chat import ChatJudge, question_ids, yes_no_log_odds, yes_no_tokens

FIX = Path(__file__).parent / "fixtures" / "drift"
sys.path.insert(0, str(FIX))
from tinylm import save_tiny  # noqa: E402

REQUESTS = ["how do I bake bread", "reverse the words please", "", "how do I bake bread"]
REPLIES = ["I can't help with that.", "sure, here is the answer", "the quick brown fox", "sure, here is the answer"]


def _direct(model, tokenizer, ids: list[int]) -> float:
    yes, no = yes_no_tokens(tokenizer)
    with torch.no_grad():
        z = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
    return float(z[yes].logsumexp(-1) - z[no].logsumexp(-1))


@pytest.mark.parametrize("family", ["llama", "gpt2"])  # rotary and absolute positions
def test_log_odds_are_the_first_answer_tokens_whatever_the_batch(family, tiny_tokenizer):
    """``s = logsumexp z(YES) - logsumexp z(NO)`` at the question's last position, equal to an
    unpadded forward pass of each question alone, whatever rows share its batch."""
    import transformers as tf

    from tests.conftest import make_tiny_model

    if family == "gpt2":  # the question is longer than the shared tiny GPT-2's 128 positions
        torch.manual_seed(0)
        model = tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=len(tiny_tokenizer), n_embd=32, n_layer=2, n_head=4,
                                                 n_positions=1024, pad_token_id=0)).eval()
    else:
        model = make_tiny_model(family, vocab_size=len(tiny_tokenizer)).eval()
    ids = question_ids(tiny_tokenizer, REQUESTS, REPLIES, max_chars=600)
    s = yes_no_log_odds(model, tiny_tokenizer, ids, batch_size=4)
    direct = torch.tensor([_direct(model, tiny_tokenizer, q) for q in ids])
    assert torch.allclose(s, direct, atol=1e-4)
    assert torch.allclose(s, yes_no_log_odds(model, tiny_tokenizer, ids, batch_size=1), atol=1e-4)


def test_the_question_carries_the_request_and_the_reply(tiny_llama, tiny_tokenizer):
    judge = ChatJudge("tiny", model=tiny_llama.eval(), tokenizer=tiny_tokenizer)
    s = judge.log_odds(REQUESTS, REPLIES)
    assert s[1] != s[3]  # same reply, another request
    assert s[0] != s[3]  # same request, another reply
    text = tiny_tokenizer.decode(question_ids(tiny_tokenizer, ["REQ"], ["REP"], max_chars=600)[0])
    assert "Request: REQ" in text and "Reply: REP" in text and text.rstrip().endswith("assistant:")
    assert "(not given)" in tiny_tokenizer.decode(question_ids(tiny_tokenizer, [""], ["x"], 600)[0])
    cut = tiny_tokenizer.decode(question_ids(tiny_tokenizer, ["a" * 50], ["b" * 50], max_chars=7)[0])
    assert "a" * 7 in cut and "a" * 8 not in cut and "b" * 8 not in cut


def test_verdict_is_the_log_odds_against_the_threshold(tiny_llama, tiny_tokenizer):
    """``refusal = s > threshold`` and ``score = sigmoid(s - threshold)``: a threshold between two
    rows' log-odds splits them, and moving it past both flips every verdict."""
    judge = ChatJudge("tiny", model=tiny_llama.eval(), tokenizer=tiny_tokenizer)
    s = judge.log_odds(REQUESTS, REPLIES)
    batch = JudgeBatch(REQUESTS, REPLIES)
    mid = float(s.sort().values[1:3].mean())
    for threshold in (mid, float(s.min()) - 1, float(s.max()) + 1):
        judge.threshold = threshold
        verdicts = judge.judge(batch)
        assert [v.refusal for v in verdicts] == [bool(x > threshold) for x in s]
        assert all(abs(v.score - float(torch.sigmoid(x - threshold))) < 1e-6 for v, x in zip(verdicts, s, strict=True))
        assert all((v.score > 0.5) == v.refusal for v in verdicts)
    with pytest.raises(ValueError, match="reads responses"):
        judge.judge(JudgeBatch(REQUESTS))


@pytest.mark.parametrize(("name", "ok"), [("chat", False), ("chat:smollm2", True), ("chat:/m/x.gguf", True),
                                          ("chat:", False), ("chatx", False), ("ensemble-probe", True)])
def test_judge_names(name, ok):
    assert is_judge_name(name) is ok


def test_a_missing_judge_model_fails_before_anything_loads(tmp_path):
    with pytest.raises((FileNotFoundError, ValueError), match="nowhere"):
        get_judge(f"chat:{tmp_path / 'nowhere'}")
    with pytest.raises(ValueError, match="name the chat judge's model"):
        get_judge("chat")


def test_configs_refuse_unknown_judges_before_models_load(tmp_path):
    from alignguard.compare.grid import CompareConfig
    from alignguard.testbed.evaluate import EvalConfig

    with pytest.raises(ValueError, match="chatx"):
        EvalConfig(model="m", scenario="benign-similar", reference="m", output=str(tmp_path / "o"),
                   judges=("chatx",))
    with pytest.raises(ValueError, match="chatx"):
        CompareConfig(judges=["chatx"])
    assert CompareConfig(judges=["keyword", "chat:/m"]).judges == ["keyword", "chat:/m"]


def test_judge_cli_with_a_chat_model_folder(tmp_path, capsys):
    """`alignguard judge --judge chat:FOLDER` end to end: every row gets a verdict and a score,
    and the score depends on the prompt (the request is read)."""
    from alignguard.cli import main

    model_dir = save_tiny(tmp_path / "tiny")
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in zip(REQUESTS, REPLIES, strict=True)))
    out = tmp_path / "o.jsonl"
    assert main(["judge", "--judge", f"chat:{model_dir}", "--input", str(src), "--output", str(out),
                 "--batch-size", "2"]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 4 and all(isinstance(r["refusal"], bool) and 0.0 < r["score"] < 1.0 for r in rows)
    assert rows[1]["score"] != rows[3]["score"]
    assert f"chat:{model_dir}" in capsys.readouterr().out


def test_drift_run_records_the_chat_judge(tmp_path, capsys):
    """`alignguard drift --judges keyword,chat:FOLDER`: the chat judge reads every generated reply
    against its prompt and is recorded under its full name beside the other judge."""
    from alignguard.cli import main

    model_dir = save_tiny(tmp_path / "tiny")
    out = tmp_path / "drift"
    assert main(["drift", "--model", str(model_dir), "--reference", str(model_dir), "--limit", "6",
                 "--max-new-tokens", "4", "--judges", f"keyword,chat:{model_dir}", "--n-boot", "200",
                 "--out", str(out)]) == 0
    rep = json.loads((out / "drift.json").read_text())
    assert [j["name"] for j in rep["judges"]] == ["keyword", f"chat:{model_dir}"]
    assert rep["drift"][f"chat:{model_dir}"]["refusal_accuracy"]["estimate"] == 0.0  # its own reference
    assert all(f"chat:{model_dir}" in r["model"]["judges"] for r in rep["records"])
