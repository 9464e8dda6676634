"""A run folder belongs to one run: its config, a lock, resume, the log.

* **One config.** ``config.json`` records the resolved config. A later ``train`` into the same
  folder continues it only when the config is the same (``steps`` may grow; logging and
  checkpoint cadence may change); anything else is refused, naming the differing fields and
  the two ways out (a new folder, or ``--overwrite``).
* **One writer.** A ``.lock`` file (pid and host) stops a second concurrent run; a lock left by
  a dead process is detected and replaced.
* **Nothing foreign deleted.** A non-empty folder holding files that are not run artifacts is
  refused; ``--overwrite`` removes the run's own artifacts only.
* **Exact resume.** The newest complete checkpoint restores weights, optimizer, schedule, the
  global RNG and the method's own state; log rows after it are dropped and a half-written last
  line (a kill mid-write) is repaired; temporary folders of interrupted writes are removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

from alignguard.artifacts import atomic_write_json, atomic_write_text, provenance

log = logging.getLogger(__name__)
ARTIFACTS = ("config.json", "provenance.json", "log.jsonl", "checkpoints", "adapter", "model",
             "after_training.json", "fisher", "trackers", ".lock")
# fields a continued run may change: its length, cadence, where it lives and what it reports
MAY_CHANGE = ("steps", "resume", "output_dir", "log_every", "save_every", "keep_checkpoints",
              "eval_data", "eval_every", "report_to")
# recorded but not compared: follows from fields that are (method, replay_fraction), and run
# folders written before it existed lack it
DERIVED = ("resolved_replay_fraction",)


class RunFolderError(RuntimeError):
    """The run folder holds another run, another writer, or foreign files."""


@contextlib.contextmanager
def folder_lock(path: Path) -> Iterator[Path]:
    """Hold ``path/.lock`` (pid and host) while the block runs: one writer per folder.

    A lock left by a dead process on this host is detected and replaced.

    Raises:
        RunFolderError: a live process holds the lock.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    lock = path / ".lock"
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(lock)
            if holder and _alive(holder):
                raise RunFolderError(
                    f"another run (pid {holder['pid']} on {holder['host']}) is writing to "
                    f"{path}; wait for it or use another output folder") from None
            log.warning("removing a stale lock of a dead run in %s (%s)", path, holder)
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            continue
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    else:
        raise RunFolderError(f"could not lock {path}; another run may be starting there")
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


class RunFolder:
    """The output folder of one training run (see the module docstring)."""

    def __init__(self, path: Path, cfg, main: bool = True) -> None:
        self.path, self.cfg, self.main = Path(path), cfg, main
        self.record = cfg.resolved()

    @contextlib.contextmanager
    def claim(self, overwrite: bool = False) -> Iterator[RunFolder]:
        """Check the folder is this run's (or free), lock it for the run's duration."""
        if not self.main:
            yield self
            return
        self._check_contents(overwrite)
        with folder_lock(self.path):
            if overwrite:
                self._remove_artifacts()
            self._remove_stale_temporaries()
            yield self

    def _check_contents(self, overwrite: bool) -> None:
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise RunFolderError(f"output_dir {self.path} exists and is not a folder")
        foreign = sorted(p.name for p in self.path.iterdir()
                         if p.name not in ARTIFACTS and not _is_temporary(p.name))
        if foreign:
            raise RunFolderError(
                f"output_dir {self.path} holds files that are not a training run's "
                f"({foreign[:5]}); choose an empty or new --output-dir (nothing was changed)")
        old = self.path / "config.json"
        if overwrite or not old.is_file():
            return
        try:
            before = json.loads(old.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RunFolderError(f"{old} is unreadable ({exc}); pass --overwrite to replace "
                                 "this run or choose a new --output-dir") from exc
        diff = _differences(before, self.record)
        if diff:
            raise RunFolderError(
                f"output_dir {self.path} holds another run: {'; '.join(diff[:8])}. Choose a new "
                "--output-dir, or pass --overwrite to replace that run (its checkpoints, log and "
                "adapter are deleted)")
        if not self.cfg.resume and any((self.path / n).exists() for n in ("checkpoints", "adapter", "model")):
            raise RunFolderError(
                f"output_dir {self.path} holds this run's progress and resume is off; pass "
                "--resume to continue it or --overwrite to start it again")

    def _remove_artifacts(self) -> None:
        removed = []
        for name in ARTIFACTS:
            target = self.path / name
            if name == ".lock" or not target.exists():
                continue
            shutil.rmtree(target) if target.is_dir() else target.unlink()
            removed.append(name)
        if removed:
            log.info("--overwrite: removed the earlier run's %s in %s", ", ".join(removed), self.path)

    def _remove_stale_temporaries(self) -> None:
        for folder in (self.path, self.path / "checkpoints"):
            if folder.is_dir():
                for p in folder.iterdir():
                    if _is_temporary(p.name):
                        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()

    def resume(self, model, optimizer, scheduler, method) -> int:
        """Restore the newest checkpoint (if any); returns its step (0 without one)."""
        from alignguard.training.checkpoint import list_checkpoints, load_checkpoint

        found = list_checkpoints(self.path / "checkpoints")
        step = 0
        if found:
            state = load_checkpoint(found[-1], model, optimizer, scheduler)
            method.load_state_dict(state.get("method") or {})
            step = int(state["step"])
            log.info("resumed from %s (step %d)", found[-1], step)
        if self.main:
            self._truncate_log(step)
        return step

    def _truncate_log(self, step: int) -> None:
        log_file = self.path / "log.jsonl"
        if not log_file.is_file():
            return
        lines = [ln for ln in log_file.read_text(encoding="utf-8", errors="replace").splitlines()
                 if ln.strip()]
        kept = []
        for i, line in enumerate(lines):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                if i == len(lines) - 1:  # a row half-written when the run was killed
                    log.warning("dropping a half-written last line of %s", log_file)
                    break
                raise RunFolderError(f"{log_file}:{i + 1} is not valid JSON; fix or delete that "
                                     "line (or pass --overwrite) to resume") from None
            if row.get("step", 0) <= step:
                kept.append(line)
        atomic_write_text(log_file, "".join(ln + "\n" for ln in kept))

    def write_run_files(self, prints: dict, artifacts, world_size: int) -> None:
        """``config.json`` (the resolved config) and ``provenance.json``."""
        if not self.main:
            return
        atomic_write_json(self.path / "config.json", self.record)
        extra = {"world_size": world_size}
        if artifacts.basis is not None:
            extra["fisher"] = {k: artifacts.basis.meta.get(k)
                               for k in ("model_fingerprint", "data_fingerprint", "n_tokens")}
        if artifacts.fingerprint:
            prints = {**prints, "alignment": artifacts.fingerprint}
        atomic_write_json(self.path / "provenance.json",
                          provenance(seed=self.cfg.seed, data=prints, **extra))

    def append_log(self, row: dict) -> None:
        """Append one JSON row to ``log.jsonl`` (flushed: a kill loses at most this line)."""
        with (self.path / "log.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


def _differences(before: dict, now: dict, prefix: str = "") -> list[str]:
    """Fields that differ between two recorded configs. A key the earlier record lacks is a
    field added by a later AlignGuard version (or a derived key written only when set): it is
    not a difference, so run folders of an older version stay resumable."""
    out = []
    for key in sorted(set(before) | set(now)):
        if (not prefix and key in MAY_CHANGE + DERIVED) or key not in before:
            continue
        a, b = before.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} was {a!r}, now {b!r}")
    return out


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and (name.endswith(".tmp") or ".old-" in name)


def _read_lock(lock: Path) -> dict | None:
    try:
        return json.loads(lock.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # another machine's process: cannot tell, assume alive
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, KeyError, TypeError):
        return True
    return True
