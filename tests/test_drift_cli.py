"""`alignguard judge` round trip and input errors; `alignguard drift` on a tiny model folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from alignguard.cli import main

FIX = Path(__file__).parent / "fixtures" / "drift"
sys.path.insert(0, str(FIX))
from tinylm import save_tiny  # noqa: E402


def test_judge_cli_round_trip(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert main(["judge", "--judge", "keyword", "--input", str(FIX / "judge_input.jsonl"), "--output", str(out)]) == 0
    rows_in = [json.loads(x) for x in (FIX / "judge_input.jsonl").read_text().splitlines()]
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["refusal"] for r in rows] == [False, True, True, False]
    assert [r["score"] for r in rows] == [0.0, 1.0, 1.0, 0.0]
    assert [{k: r[k] for k in ("prompt", "response")} for r in rows] == rows_in
    assert "2/4 refusals" in capsys.readouterr().out


@pytest.mark.parametrize(("lines", "message"), [
    (['{"prompt": "a", "response": "b"}', "{not json"], r"bad.jsonl:2: not valid JSON"),
    (['["a", "b"]'], r"bad.jsonl:1: expected a JSON object"),
    (['{"prompt": "a", "response": "b"}', "", '{"response": "b"}'], r"bad.jsonl:3: missing string field 'prompt'"),
    (['{"prompt": "a", "response": 3}'], r"bad.jsonl:1: field 'response' must be a string"),
    (['{"prompt": "a"}'], r"row 1 has no 'response'"),
    ([""], r"has no rows"),
])
def test_judge_cli_bad_input_names_the_line(tmp_path, capsys, lines, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    assert main(["judge", "--judge", "keyword", "--input", str(bad), "--output", str(tmp_path / "o.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "alignguard: error:" in err
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "o.jsonl").exists()


def test_judge_cli_likelihood_needs_a_model_and_uses_it(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"prompt": "Hello?"}\n{"prompt": "Tell me a story."}\n')
    assert main(["judge", "--judge", "likelihood", "--input", str(src), "--output", str(tmp_path / "o.jsonl")]) == 1
    assert "pass --model" in capsys.readouterr().err
    model_dir = save_tiny(tmp_path / "tiny")
    assert main(["judge", "--judge", "likelihood", "--input", str(src), "--output", str(tmp_path / "o.jsonl"),
                 "--model", str(model_dir)]) == 0
    rows = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert all(isinstance(r["refusal"], bool) and 0.0 <= r["score"] <= 1.0 for r in rows)


def test_drift_cli_on_tiny_model(tmp_path, capsys):
    model_dir = save_tiny(tmp_path / "tiny")
    out = tmp_path / "drift"
    code = main(["drift", "--model", str(model_dir), "--reference", str(model_dir), "--limit", "12",
                 "--max-new-tokens", "4", "--judges", "keyword,likelihood", "--n-boot", "200", "--out", str(out)])
    assert code == 0
    rep = json.loads((out / "drift.json").read_text())
    assert rep["suite"]["name"] == "driftcheck-en" and rep["suite"]["version"]
    assert rep["suite"]["n_selected"] == 12 and len(rep["records"]) == 12
    assert [j["name"] for j in rep["judges"]] == ["keyword", "likelihood"]
    assert all(j["version"] for j in rep["judges"])
    # the same model as its own reference: no drift at all
    assert rep["drift"]["keyword"]["refusal_accuracy"]["estimate"] == 0.0
    assert rep["drift"]["likelihood"]["flipped_to_comply"] == 0
    assert "keyword~likelihood" in rep["agreement"]["model"]
    assert (out / "drift.html").is_file() and "refusal accuracy" in capsys.readouterr().out


def test_judge_cli_refuses_to_overwrite_its_input(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    text = '{"prompt": "a", "response": "No.", "refusal": true}\n'
    src.write_text(text)
    assert main(["judge", "--judge", "keyword", "--input", str(src), "--output", str(src)]) == 1
    assert "is the --input file" in capsys.readouterr().err and src.read_text() == text
    link = tmp_path / "sub" / ".." / "in.jsonl"
    (tmp_path / "sub").mkdir()
    assert main(["judge", "--judge", "keyword", "--input", str(src), "--output", str(link)]) == 1


@pytest.mark.parametrize("limit", ["0", "-5"])
def test_drift_cli_rejects_non_positive_limit(tmp_path, capsys, limit):
    assert main(["drift", "--model", str(tmp_path / "nowhere"), "--limit", limit, "--out", str(tmp_path / "o")]) == 1
    assert "--limit must be a positive number" in capsys.readouterr().err


@pytest.mark.parametrize("with_model", [False, True])
def test_judge_cli_ensemble(tmp_path, capsys, with_model):
    out = tmp_path / "out.jsonl"
    extra = ["--model", str(save_tiny(tmp_path / "tiny"))] if with_model else []
    assert main(["judge", "--judge", "ensemble", "--input", str(FIX / "judge_input.jsonl"), "--output", str(out),
                 *extra]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["refusal"] for r in rows] == [False, True, True, False]  # clear cases: the likelihood vote cannot flip them
    assert all(0.0 <= r["score"] <= 1.0 for r in rows) and "ensemble judge" in capsys.readouterr().out
