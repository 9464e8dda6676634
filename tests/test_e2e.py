"""End to end: the real CLI on the shipped organism (slower; part of the CI suite)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_reduced_demo_through_the_cli_the_default_drifts_less_than_lora(tmp_path):
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "alignguard.cli", "demo", "--steps", "80", "--eval-limit", "48",
           "--output", str(out), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    base = results["base"]["refusal_accuracy"]
    lora = results["summary"]["lora"]["refusal_accuracy"]["mean"]
    assert results["method"] == "alignguard"
    defense = results["summary"]["alignguard"]["refusal_accuracy"]["mean"]
    assert base - lora > 0.1, "plain LoRA should drift on the benign-but-similar scenario"
    assert base - defense < base - lora, "the default method should drift less than plain LoRA"
    report = (out / "report.html").read_text()
    assert "data:image/png;base64" in report and "AlignGuard demo" in report
    for run in ("lora-seed0", "alignguard-seed0"):
        assert (out / run / "adapter" / "adapter_config.json").is_file()
        assert (out / run / "provenance.json").is_file()
    assert json.loads(proc.stdout)["scenario"] == "benign"
