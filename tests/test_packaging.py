"""A built wheel carries the package data: the organism (its chat template included), the judges' data
and the shipped alignment adapters (``smollm2-aligned``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_the_organism_judge_data_and_shipped_adapters(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("alignguard_lora-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    src = ROOT / "src"
    wanted = [p.relative_to(src).as_posix()
              for p in (src / "alignguard" / "organism" / "checkpoints").rglob("*") if p.is_file()]
    wanted += [p.relative_to(src).as_posix() for p in (src / "alignguard" / "drift" / "data").rglob("*")
               if p.is_file()]
    shipped = [p for p in (src / "alignguard" / "adapters").rglob("*") if p.is_file()]
    assert {p.name for p in shipped} >= {"adapter_config.json", "adapter_model.safetensors",
                                          "build.json", "README.md"}
    wanted += [p.relative_to(src).as_posix() for p in shipped]
    assert any(w.endswith("chat_template.jinja") for w in wanted)
    missing = [w for w in wanted if w not in names]
    assert missing == []

    # installed from that wheel (alone on the path, outside the source tree), the organism still refuses
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                           str(wheel)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    code = ("import json, sys, alignguard; from alignguard.cli import main; "
            "print(alignguard.__file__); sys.exit(main(['organism', 'eval', '--limit', '4', '--json']))")
    env = {**os.environ, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    where, _, report = proc.stdout.partition("\n")
    assert Path(where).is_relative_to(target)
    metrics = json.loads(report)["heldout"]
    assert metrics["refusal_accuracy"] >= 0.75, metrics
