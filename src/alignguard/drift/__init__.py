"""DriftCheck: the drift benchmark of AlignGuard-LoRA (arXiv 2508.02079) with offline judges.

Public API (imported lazily, no side effects at import):

* :func:`run_drift` / :class:`DriftConfig`: evaluate a model (optionally + PEFT adapter) on a
  suite, optionally against a reference; writes ``drift.json`` and ``drift.html``;
* :func:`load_suite`, :class:`Suite`, :class:`PromptRecord`: versioned prompt suites
  (``driftcheck-en``, ``organism``, external sources);
* :func:`get_judge`, :class:`Judge`, :class:`JudgeBatch`, :class:`Verdict`: refusal judges
  (ensemble-probe, the default; ensemble, semantic, probe, lexicon, keyword, likelihood, ...).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "run_drift": "alignguard.drift.runner",
    "DriftConfig": "alignguard.drift.runner",
    "evaluate_model": "alignguard.drift.runner",
    "load_suite": "alignguard.drift.suites",
    "select_records": "alignguard.drift.suites",
    "Suite": "alignguard.drift.records",
    "PromptRecord": "alignguard.drift.records",
    "SuiteError": "alignguard.drift.records",
    "get_judge": "alignguard.drift.judges",
    "Judge": "alignguard.drift.judges",
    "JudgeBatch": "alignguard.drift.judges",
    "Verdict": "alignguard.drift.judges",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'alignguard.drift' has no attribute {name!r}")


__all__ = list(_LAZY)
