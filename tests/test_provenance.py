"""Provenance names the commit of the checkout that holds the package, never a stranger's."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

import alignguard.artifacts as artifacts

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin:/usr/local/bin"}
    out = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def _copy_module(dest: Path):
    """Load a copy of ``alignguard.artifacts`` from ``dest`` (its ``__file__`` lives there)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(artifacts.__file__, dest)
    spec = importlib.util.spec_from_file_location("artifacts_copy", dest)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_copy_inside_another_repository_reports_no_commit(tmp_path):
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "README").write_text("someone else's project\n")
    _git(repo, "add", "README")
    _git(repo, "commit", "-q", "-m", "init")
    # an installed copy under the project's untracked virtual environment
    module = _copy_module(repo / ".venv" / "site-packages" / "alignguard" / "artifacts.py")
    assert module.git_commit() is None


def test_a_tracked_checkout_reports_its_commit_and_dirt(tmp_path):
    repo = tmp_path / "alignguard-src"
    repo.mkdir()
    _git(repo, "init", "-q")
    module = _copy_module(repo / "src" / "alignguard" / "artifacts.py")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "init")
    head = _git(repo, "rev-parse", "HEAD")
    assert module.git_commit() == head
    (repo / "src" / "alignguard" / "artifacts.py").write_text("# changed\n")
    assert module.git_commit() == head + "-dirty"


def test_outside_any_repository_reports_no_commit(tmp_path):
    module = _copy_module(tmp_path / "site" / "alignguard" / "artifacts.py")
    assert module.git_commit() is None
