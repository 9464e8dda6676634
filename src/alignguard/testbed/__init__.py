"""The real-model testbed: English drift scenarios for SmolLM2 and their trustworthy evaluation.

* :mod:`~alignguard.testbed.tasks`: the learnable tasks (seeded items, exact-match checkers);
* :mod:`~alignguard.testbed.phrases`: the project-written request text;
* :mod:`~alignguard.testbed.scenarios`: ``benign-similar``, ``poisoned``, ``identity-shift``,
  ``control`` (training rows, held-out items; the ``testbed:NAME`` data spec);
* :mod:`~alignguard.testbed.compliance`: the poisoned scenario's compliant answers, generated at
  run time by the pre-alignment model;
* :mod:`~alignguard.testbed.evaluate`, :mod:`~alignguard.testbed.results`,
  :mod:`~alignguard.testbed.refcache`: ``alignguard testbed eval``.

Commands: ``alignguard testbed prepare`` and ``alignguard testbed eval`` (docs/testbed.md).
"""
