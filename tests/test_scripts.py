"""The shell scripts behind the README's grids pass only options the CLI knows.

Each script runs with ``PYTHON`` pointing at a stub that records its ``alignguard.cli`` arguments
(and writes the files that ``align data`` would), so nothing trains; every recorded command is
then parsed by the real command parser, which exits on an unknown or malformed option.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from alignguard.cli import _split_command, build_command_parser

ROOT = Path(__file__).resolve().parents[1]
STUB = """
import json, pathlib, sys
args = sys.argv[1:]
assert args[:2] == ["-m", "alignguard.cli"], args
args = args[2:]
with open({log!r}, "a") as f:
    f.write(json.dumps(args) + "\\n")
if args[:2] == ["align", "data"]:
    out = pathlib.Path(args[args.index("--output") + 1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "align.jsonl").write_text("{{}}\\n")
"""


def _run_script(tmp_path: Path, script: str, env: dict[str, str]) -> list[list[str]]:
    log = tmp_path / "calls.jsonl"
    (tmp_path / "stub.py").write_text(STUB.format(log=str(log)))
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{tmp_path / "stub.py"}" "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    full_env = {**os.environ, "PYTHON": str(python), **env}
    subprocess.run(["bash", str(ROOT / "scripts" / script), str(tmp_path / "out")], check=True,
                   env=full_env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    return [json.loads(line) for line in log.read_text().splitlines()]


def _parse(argv: list[str]) -> dict:
    name, rest = _split_command(argv)
    assert name is not None, argv
    return vars(build_command_parser(name).parse_args(rest))


@pytest.mark.parametrize(("script", "env", "n_calls"), [
    ("smollm2_grid.sh", {}, 4),  # align data + compare, twice (every method but agl; agl)
    ("smollm2_grid.sh", {"METHODS": "alignguard,kl-anchor", "EVAL_LIMIT": "120"}, 2),
    ("smollm2_grid.sh", {"METHODS": "agl"}, 2),
    ("smollm2_grid.sh", {"METHODS": "alignguard", "BATCH": "16"}, 2),
    ("smollm2_screen.sh", {}, 2),
    ("organism_robustness.sh", {}, 6),  # one grid per setting
])
def test_script_options_parse(tmp_path, script, env, n_calls):
    calls = _run_script(tmp_path, script, env)
    assert len(calls) == n_calls
    for argv in calls:
        _parse(argv)  # argparse exits (SystemExit) on an unknown option


@pytest.mark.parametrize(("env", "batch"), [({}, "8"), ({"BATCH": "16"}, "16")])
def test_grid_script_task_batch(tmp_path, env, batch):
    compare = next(c for c in _run_script(tmp_path, "smollm2_grid.sh", {"METHODS": "alignguard", **env})
                   if c[0] == "compare")
    assert compare[compare.index("--train.batch-size") + 1] == batch


def test_grid_script_keeps_agl_apart_with_its_contrastive_data(tmp_path):
    calls = _run_script(tmp_path, "smollm2_grid.sh", {})
    compares = [c for c in calls if c[0] == "compare"]
    main, agl = (c[c.index("--methods") + 1].split(",") for c in compares)
    assert "agl" not in main and "agl-paper" in main and main[0] == "lora"
    assert agl == ["lora", "agl"]
    assert "--train.alignment.estimator" in compares[0] and "--train.alignment.estimator" not in compares[1]
    aligns = [c for c in calls if c[:2] == ["align", "data"]]
    assert "--rejected-from" not in aligns[0] and aligns[1][aligns[1].index("--rejected-from") + 1] == "smollm2"
