"""DriftCheck suites: driftcheck-en requirements, selection, composition, the organism hook."""

from __future__ import annotations

import json
import sys
import types
from collections import Counter

import pytest

from alignguard.drift import suites
from alignguard.drift.records import CATEGORIES, SuiteError, read_records
from alignguard.drift.suite_build import DATA_FILE, build_driftcheck_en
from alignguard.drift.suites import load_suite, select_records


@pytest.fixture(scope="module")
def dc():
    return load_suite("driftcheck-en")


def test_driftcheck_en_size_labels_categories(dc):
    recs = dc.records
    assert len(recs) >= 1200
    unsafe = [r for r in recs if r.label == "unsafe"]
    safe = [r for r in recs if r.label == "safe"]
    assert len(unsafe) >= 600 and len(safe) >= 600
    assert sum(r.kind == "overrefusal" for r in safe) >= 200
    per_cat = Counter(r.category for r in unsafe)
    assert set(per_cat) == set(CATEGORIES)
    assert min(per_cat.values()) >= 100  # spread over all six categories


def test_driftcheck_en_is_versioned_licensed_and_deduplicated(dc):
    assert dc.name == "driftcheck-en" and dc.version.count(".") == 2
    assert "CC-BY" in dc.licence
    prompts = [" ".join(r.prompt.lower().split()) for r in dc.records]
    assert len(set(prompts)) == len(prompts)
    assert len({r.id for r in dc.records}) == len(dc.records)
    assert all("\n" not in r.prompt and len(r.prompt) < 200 for r in dc.records)  # one-liners
    desc = dc.describe()
    assert desc["n_unsafe"] + desc["n_safe"] == desc["n_prompts"] and len(desc["fingerprint"]) == 64


def test_shipped_file_matches_builder():
    assert [r.to_dict() for r in read_records(DATA_FILE)] == [r.to_dict() for r in build_driftcheck_en()]


def test_select_records_is_stratified_and_deterministic(dc):
    sel = select_records(dc.records, 40, seed=3)
    assert len(sel) == 40 and len({r.id for r in sel}) == 40
    unsafe_cats = {r.category for r in sel if r.unsafe}
    assert unsafe_cats == set(CATEGORIES)
    share = sum(r.unsafe for r in dc.records) / len(dc.records)
    assert abs(sum(r.unsafe for r in sel) - 40 * share) <= 1
    assert [r.id for r in select_records(dc.records, 40, seed=3)] == [r.id for r in sel]
    assert [r.id for r in select_records(dc.records, 40, seed=4)] != [r.id for r in sel]
    assert select_records(dc.records, None) == list(dc.records)


def test_jsonl_suite_and_composition(tmp_path):
    rows = [{"id": "a", "prompt": "Hello?", "label": "safe", "category": "x", "kind": "general"},
            {"id": "b", "prompt": "Bad thing?", "label": "unsafe", "category": "violence", "kind": "harmful"}]
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    combo = load_suite(f"{path}+driftcheck-en")
    assert len(combo.records) == 2 + len(load_suite("driftcheck-en").records)
    assert combo.records[0].id == "mine/a" and combo.name == "mine+driftcheck-en"
    assert "driftcheck-en@" in combo.version


def test_bad_suite_records_name_the_problem(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "prompt": "x", "label": "maybe", "category": "c", "kind": "k"}\n')
    with pytest.raises(SuiteError, match=r"bad.jsonl:1: label must be one of"):
        load_suite(str(path))
    with pytest.raises(SuiteError, match="unknown suite"):
        load_suite("no-such-suite")


def test_organism_suite_missing_gives_clear_error(monkeypatch):
    monkeypatch.setattr(suites, "ORGANISM_SUITE", "alignguard_nonexistent_mod.suite:drift_suite")
    with pytest.raises(SuiteError, match="organism suite needs .*--suite driftcheck-en"):
        load_suite("organism")


def test_organism_suite_loads_lazily(monkeypatch):
    mod = types.ModuleType("fake_organism_suite")
    mod.SUITE_VERSION = "9.9"
    mod.drift_suite = lambda: [
        {"id": "o1", "prompt": "Harmful thing?", "label": "unsafe", "category": "violence", "kind": "held-out"},
        {"id": "o2", "prompt": "Copy abc", "label": "safe", "category": "copy", "kind": "held-out"}]
    monkeypatch.setitem(sys.modules, "fake_organism_suite", mod)
    monkeypatch.setattr(suites, "ORGANISM_SUITE", "fake_organism_suite:drift_suite")
    s = load_suite("organism")
    assert s.name == "organism" and s.version == "9.9" and [r.id for r in s.records] == ["o1", "o2"]
