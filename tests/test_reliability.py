"""Fault injection: runs never lose or mix work, and every expected failure is a clear message.

docs/reliability.md maps each promise to the test here that checks it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from alignguard.cli import main
from alignguard.training.config import TrainConfig
from alignguard.training.loop import train
from alignguard.training.runs import RunFolderError
from tests.conftest import write_jsonl

DRIVER = '''
import json, os, signal, sys
import alignguard.training.checkpoint as ckpt
from alignguard.config import from_dict
from alignguard.training.config import TrainConfig
from alignguard.training.loop import train
cfg = from_dict(TrainConfig, json.loads(sys.argv[1]))
mode, at = sys.argv[2], int(sys.argv[3])
def kill_at(step, model):
    if mode == "step" and step == at:
        os.kill(os.getpid(), signal.SIGKILL)
if mode == "checkpoint":  # die half-way through writing the checkpoint of step `at`
    real = ckpt.save_file
    def dying(tensors, path, *a, **k):
        real(tensors, path, *a, **k)
        if f"step-{at:06d}" in str(path) or ".step-" in str(path):
            if path.endswith("trainable.safetensors") and f"{at:06d}" in path:
                os.kill(os.getpid(), signal.SIGKILL)
    ckpt.save_file = dying
train(cfg, progress=False, callbacks=[kill_at])
'''


def _cfg(model_dir, data, out, **kw) -> dict:
    cfg = {"model": str(model_dir), "data": str(data), "output_dir": str(out), "method": "agl",
           "steps": 6, "batch_size": 4, "lr": 1e-2, "warmup_steps": 1, "log_every": 1,
           "save_every": 2, "max_length": 48, "lora": {"r": 4, "dropout": 0.1},
           "alignment": {"data": str(data), "estimator": "empirical", "max_rank": 4,
                         "batch_size": 4, "max_length": 48},
           "reg": {"gate": 0.0}}
    cfg.update(kw)
    return cfg


def _adapter(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "adapter" / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run (the adapter every resumed run must equal bit-exactly)."""
    from tests.conftest import make_tiny_model, make_tiny_tokenizer

    root = tmp_path_factory.mktemp("rel")
    tok = make_tiny_tokenizer()
    model_dir = root / "model"
    make_tiny_model("llama", vocab_size=len(tok)).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    data = write_jsonl(root / "task.jsonl", [{"prompt": f"reverse the words {i}",
                                              "response": f"words the reverse {i}"} for i in range(16)])
    from alignguard.config import from_dict

    train(from_dict(TrainConfig, _cfg(model_dir, data, root / "ref")), progress=False)
    return model_dir, data, root / "ref"


@pytest.mark.parametrize("mode, at", [("step", 3), ("step", 5), ("checkpoint", 4)])
def test_kill_9_then_resume_is_bit_exact(tmp_path, reference, mode, at):
    model_dir, data, ref = reference
    cfg = _cfg(model_dir, data, tmp_path / "run")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(cfg), mode, str(at)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    if mode == "checkpoint":  # a half-written checkpoint folder is left under a temporary name
        assert any(p.name.endswith(".tmp") for p in (tmp_path / "run" / "checkpoints").iterdir())
    from alignguard.config import from_dict

    train(from_dict(TrainConfig, cfg), progress=False)
    got, want = _adapter(tmp_path / "run"), _adapter(ref)
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    assert not [p for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.startswith(".")]
    steps = [json.loads(x)["step"] for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def _run(cfg: dict, **kw):
    from alignguard.config import from_dict

    return train(from_dict(TrainConfig, cfg), progress=False, **kw)


def test_half_written_log_line_is_repaired_on_resume(tmp_path, reference):
    model_dir, data, ref = reference
    cfg = _cfg(model_dir, data, tmp_path / "run", steps=4)
    _run(cfg)
    log_file = tmp_path / "run" / "log.jsonl"
    log_file.write_text(log_file.read_text() + '{"step": 5, "task_lo')  # killed mid-write
    _run({**cfg, "steps": 6})  # steps may grow
    steps = [json.loads(x)["step"] for x in log_file.read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_disk_full_during_checkpoint_loses_nothing(tmp_path, reference, monkeypatch):
    import alignguard.training.checkpoint as ckpt

    model_dir, data, ref = reference
    cfg = _cfg(model_dir, data, tmp_path / "run")
    real = ckpt.save_file

    def full(tensors, path, *a, **k):
        if "000004" in str(Path(path).parent.name) or ".step-000004" in str(path):
            raise OSError(28, "No space left on device")
        return real(tensors, path, *a, **k)

    monkeypatch.setattr(ckpt, "save_file", full)
    with pytest.raises(OSError, match="No space left"):
        _run(cfg)
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["step-000002"]  # the good checkpoint is intact, no temporary left
    assert not (tmp_path / "run" / "adapter").exists()
    monkeypatch.setattr(ckpt, "save_file", real)  # space freed: resume completes, bit-exact
    _run(cfg)
    got, want = _adapter(tmp_path / "run"), _adapter(ref)
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_a_folder_belongs_to_one_run(tmp_path, reference):
    model_dir, data, _ = reference
    cfg = _cfg(model_dir, data, tmp_path / "run", steps=2)
    _run(cfg)
    before = _adapter(tmp_path / "run")
    with pytest.raises(RunFolderError, match=r"lr was 0.01, now 0.001.*--overwrite"):
        _run({**cfg, "lr": 1e-3})
    with pytest.raises(RunFolderError, match="method was 'agl', now 'lora'"):
        _run({**cfg, "method": "lora"})
    with pytest.raises(RunFolderError, match="resume is off"):
        _run({**cfg, "resume": False})
    assert all(torch.equal(before[k], v) for k, v in _adapter(tmp_path / "run").items())
    _run({**cfg, "lr": 1e-3}, overwrite=True)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["lr"] == 1e-3


def test_foreign_files_are_never_deleted(tmp_path, reference):
    model_dir, data, _ = reference
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(RunFolderError, match="not a training run's"):
        _run(_cfg(model_dir, data, out, steps=1), overwrite=True)
    assert (out / "thesis.tex").read_text() == "precious"
    fisher_out = tmp_path / "notes"
    fisher_out.mkdir()
    (fisher_out / "keep.txt").write_text("x")
    assert main(["fisher", "--model", str(model_dir), "--data", str(data), "--estimator",
                 "empirical", "--output", str(fisher_out), "--max-rank", "2"]) == 1
    assert (fisher_out / "keep.txt").read_text() == "x"


def test_concurrent_run_is_refused_and_stale_lock_replaced(tmp_path, reference):
    model_dir, data, _ = reference
    out = tmp_path / "run"
    out.mkdir()
    import socket

    (out / ".lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    with pytest.raises(RunFolderError, match="another run .* is writing"):
        _run(_cfg(model_dir, data, out, steps=1))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    _run(_cfg(model_dir, data, out, steps=1))
    assert (out / "adapter").is_dir() and not (out / ".lock").exists()


def test_stale_cached_fisher_is_re_estimated(tmp_path, reference):
    model_dir, data, _ = reference
    cfg = _cfg(model_dir, data, tmp_path / "run", steps=1)
    _run(cfg)
    first = json.loads((tmp_path / "run" / "fisher" / "fisher.json").read_text())["data_fingerprint"]
    other = write_jsonl(tmp_path / "align2.jsonl", [{"prompt": f"say {i}", "response": f"ok {i}"}
                                                    for i in range(8)])
    cfg2 = {**cfg, "alignment": {**cfg["alignment"], "data": str(other)}}
    _run(cfg2, overwrite=True)
    second = json.loads((tmp_path / "run" / "fisher" / "fisher.json").read_text())["data_fingerprint"]
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert first != second and prov["fisher"]["data_fingerprint"] == second


def test_non_finite_weights_never_reach_a_checkpoint(tmp_path, reference):
    from alignguard.methods.objective import NonFiniteLossError

    model_dir, data, _ = reference
    with pytest.raises(NonFiniteLossError, match="(non-finite|became).*--output-dir"):
        _run(_cfg(model_dir, data, tmp_path / "run", lr=1e37, max_grad_norm=1e38, method="lora"))
    for ck in (tmp_path / "run" / "checkpoints").glob("step-*"):
        assert all(torch.isfinite(t).all() for t in load_file(str(ck / "trainable.safetensors")).values())


@pytest.mark.parametrize("damage, message", [
    ("truncate_checkpoint", "is unreadable"),
    ("fisher_key", "is incomplete"),
    ("fisher_fingerprints", "no module fingerprints"),
    ("truncate_fisher", "corrupted or truncated"),
])
def test_corrupted_artifacts_are_clear_errors(tmp_path, reference, capsys, damage, message):
    model_dir, data, _ = reference
    cfg = _cfg(model_dir, data, tmp_path / "run", steps=2)
    _run(cfg)
    run = tmp_path / "run"
    if damage == "truncate_checkpoint":
        f = run / "checkpoints" / "step-000002" / "trainable.safetensors"
        f.write_bytes(f.read_bytes()[:50])
        cfg = {**cfg, "steps": 3}
    elif damage.startswith("fisher"):
        meta = json.loads((run / "fisher" / "fisher.json").read_text())
        meta.pop("modules" if damage == "fisher_key" else "module_fingerprints")
        (run / "fisher" / "fisher.json").write_text(json.dumps(meta))
        cfg = {**cfg, "alignment": {**cfg["alignment"], "fisher": str(run / "fisher")}}
    else:
        f = run / "fisher" / "fisher.safetensors"
        f.write_bytes(f.read_bytes()[:100])
        cfg = {**cfg, "alignment": {**cfg["alignment"], "fisher": str(run / "fisher")}}
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(json.dumps({**cfg, "output_dir": str(tmp_path / ("run" if damage == "truncate_checkpoint" else "run2"))}))
    assert main(["train", "--config", str(cfg_file)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("content, message", [
    (b'{"prompt": "a", "response": 42}\n', r":1: 'response' must be a string, got int"),
    (b'{"prompt": "a", "response": "b\xff"}\n', r":1: not UTF-8 text"),
])
def test_bad_data_names_file_line_and_field(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    assert main(["train", "--data", str(bad), "--method", "lora", "--output-dir", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and __import__("re").search(message, err) and not (tmp_path / "o").exists()
    assert main(["train", "--data", str(tmp_path), "--method", "lora"]) == 1
    assert "is a folder" in capsys.readouterr().err


def test_identical_preference_pairs_are_refused_before_anything_is_written(tmp_path, capsys):
    pairs = write_jsonl(tmp_path / "align.jsonl", [{"prompt": "p", "response": "r", "rejected": "r"}])
    assert main(["train", "--method", "agl", "--alignment-data", str(pairs), "--output-dir",
                 str(tmp_path / "o")]) == 1
    assert "'rejected' equal to its 'response'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["fisher", "--data", str(pairs), "--output", str(tmp_path / "f")]) == 1
    assert "must differ" in capsys.readouterr().err and not (tmp_path / "f").exists()


def test_unwritable_output_is_a_one_line_error(tmp_path, reference, capsys):
    model_dir, data, _ = reference
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["train", "--model", str(model_dir), "--data", str(data), "--method", "lora",
                 "--output-dir", str(blocker / "run")]) == 1
    err = capsys.readouterr().err
    assert str(blocker) in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_output_folder_is_a_one_line_error(tmp_path, reference, capsys):
    model_dir, data, _ = reference
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        assert main(["train", "--model", str(model_dir), "--data", str(data), "--method", "lora",
                     "--output-dir", str(out)]) == 1
        assert "Permission denied" in capsys.readouterr().err
    finally:
        out.chmod(0o700)
