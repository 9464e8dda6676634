"""Every script in examples/ runs as it is (offline, small step counts) and does what it says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, out: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--output", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _lora_adapter(folder: Path) -> dict:
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and (folder / "adapter_model.safetensors").is_file()
    return config


def test_your_model_flow(tmp_path):
    stdout = _run("your_model_flow.py", tmp_path)
    assert "refusal drift (base - fine-tuned)" in stdout
    assert _lora_adapter(tmp_path / "agl" / "adapter")["base_model_name_or_path"] == "organism"
    rows = [json.loads(x) for x in (tmp_path / "agl" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval_loss" in r] == [4, 8]
    assert "reg/fisher" in rows[-1] and "gate/fraction" in rows[-1]
    prints = json.loads((tmp_path / "agl" / "provenance.json").read_text())["data_fingerprints"]
    assert {"task", "alignment", "eval"} <= set(prints)
    report = json.loads((tmp_path / "drift" / "drift.json").read_text())
    assert report["drift_definition"].startswith("drift = reference - model")
    assert (tmp_path / "drift" / "drift.html").read_text().count("class='verdict'") == 1


@pytest.mark.parametrize("script", ["hf_trainer.py", "trl_sft.py"])
def test_trainer_examples(tmp_path, script):
    stdout = _run(script, tmp_path)
    logged = json.loads(stdout.strip().splitlines()[-1])  # the last log row
    assert logged["loss"] > 0 and logged["alignguard/reg/kl"] > 0  # the default's two anchors
    assert "alignguard/reg/rdir_task" in logged
    _lora_adapter(tmp_path)
