"""Named datasets: a data file or folder, or a built-in set of the model organism.

Kept apart from :mod:`alignguard.data` (which the organism itself imports) so that the
dependency points one way: ``dataspec -> organism -> data``.
"""

from __future__ import annotations

from alignguard.data import Example


def load_dataset_spec(spec: str) -> list[Example]:
    """Examples named by ``spec``: a local data file (``.jsonl``, ``.json``, ``.parquet``,
    ``.csv``) or ``save_to_disk`` folder (:func:`alignguard.datafiles.read_dataset`), or
    ``organism:NAME`` / ``scenario:NAME``, or ``testbed:NAME``.

    ``organism:`` and ``scenario:`` names come from :func:`alignguard.organism.scenarios.load`
    (the synthetic world: ``alignment``, ``benign``, ``poisoned``, ``control``, ...);
    ``testbed:`` names from :func:`alignguard.testbed.scenarios.load` (the real-model English
    scenarios: ``benign-similar``, ``identity-shift``, ``control``; ``poisoned`` is written by
    ``alignguard testbed prepare``).
    """
    prefix, sep, name = spec.partition(":")
    if sep and prefix == "testbed":
        from alignguard.testbed.scenarios import load as load_testbed

        return load_testbed(name)
    if sep and prefix in ("organism", "scenario"):
        from alignguard.organism.scenarios import load

        return load(name)
    from alignguard.datafiles import read_dataset

    return read_dataset(spec)
