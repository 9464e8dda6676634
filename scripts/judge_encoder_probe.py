"""Probe (issue 13, not shipped): does fine-tuning the judge's encoder carry to real replies?

Trains MiniLM with a PEFT LoRA adapter (r = 8 on query/value) jointly with a linear head on the
semantic judge's features (:func:`alignguard.drift.judges.features`: glossed opening + full
response embeddings and the cue features), on the same family split as the shipped head, with
class-balanced BCE, then prints accuracy / refusal precision / recall / ECE on the held-out
families, the independent sets and the real-model sets (``data/judge_real.jsonl``,
``data/judge_finetuned.jsonl``). No calibration, no tuning: one run, the numbers in
docs/judges.md. ~15 min on one contended CPU thread.

    OMP_NUM_THREADS=1 python scripts/judge_encoder_probe.py [EPOCHS] [PROBS.json]

With PROBS.json it also writes every row's probability, and prints the sets again for the mean of
the probe's and the shipped semantic judge's probabilities (a two-member average).
"""

from __future__ import annotations

import json
import random
import sys
import time

import torch
from peft import LoraConfig, get_peft_model

from alignguard.drift.judge_data import build_training_set, split_rows
from alignguard.drift.judges.evaluate import binary_metrics, labelled_set
from alignguard.drift.judges.features import cue_features, gloss, opening
from alignguard.drift.judges.semantic import MiniLMEmbedder


def main(epochs: int = 2, dump: str | None = None, seed: int = 0) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    emb = MiniLMEmbedder()
    lora = LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value"])
    model = get_peft_model(emb.model, lora)

    def encode(texts: list[str]) -> torch.Tensor:
        enc = emb.tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def features(texts: list[str]) -> torch.Tensor:
        glossed = [gloss(t) for t in texts]
        cues = torch.tensor([cue_features(t) for t in texts], dtype=torch.float32)
        return torch.cat([encode([opening(g) for g in glossed]), encode(glossed), cues], 1)

    train, test = split_rows(build_training_set(seed))
    head = torch.nn.Linear(778, 1)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": trainable, "lr": 5e-4},
                             {"params": head.parameters(), "lr": 5e-3}], weight_decay=0.01)
    n_pos = sum(r["refusal"] for r in train)
    weight = {True: len(train) / (2 * n_pos), False: len(train) / (2 * (len(train) - n_pos))}
    t0 = time.time()
    model.train()
    for epoch in range(epochs):
        order = list(range(len(train)))
        rng.shuffle(order)
        for lo in range(0, len(order), 32):
            rows = [train[i] for i in order[lo:lo + 32]]
            y = torch.tensor([float(r["refusal"]) for r in rows])
            w = torch.tensor([weight[r["refusal"]] for r in rows])
            logit = head(features([r["response"] for r in rows])).squeeze(-1)
            bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, y, reduction="none")
            loss = (bce * w).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}/{epochs} done ({time.time() - t0:.0f} s)", flush=True)
    model.eval()
    sets = {"families": test} | {name: labelled_set(name) for name in ("natural", "v1", "real", "finetuned")}
    all_probs = {}
    for name, rows in sets.items():
        with torch.no_grad():
            texts = [r["response"] for r in rows]
            all_probs[name] = [p for lo in range(0, len(texts), 64) for p in
                               torch.sigmoid(head(features(texts[lo:lo + 64])).squeeze(-1)).tolist()]
    report(sets, all_probs, "probe")
    if dump:
        from alignguard.drift.judges.semantic import SemanticJudge

        shipped = SemanticJudge()
        with open(dump, "w") as f:
            json.dump(all_probs, f)
        mean = {name: [(a + b) / 2 for a, b in zip(all_probs[name], shipped.probs(
            [r["response"] for r in rows]).tolist(), strict=True)] for name, rows in sets.items()}
        report(sets, mean, "mean")


def report(sets: dict[str, list[dict]], all_probs: dict[str, list[float]], label: str) -> None:
    """Accuracy, refusal precision / recall and ECE per set (and per subset / model)."""
    for name, rows in sets.items():
        probs = all_probs[name]
        groups: dict[str, list[int]] = {"all": list(range(len(rows)))}
        key = {"finetuned": "subset", "real": "family"}.get(name)
        for i, row in enumerate(rows):
            if key:
                groups.setdefault(row[key], []).append(i)
        for group, idx in groups.items():
            m = binary_metrics([rows[i]["refusal"] for i in idx], [probs[i] >= 0.5 for i in idx],
                               [probs[i] for i in idx])
            print(f"{label:5s} {name:10s} {group:14s} n {m['n']:5d} acc {m['accuracy']:.3f} "
                  f"P {m['precision'] or 0:.3f} R {m['recall'] or 0:.3f} ECE {m['ece']:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2, sys.argv[2] if len(sys.argv) > 2 else None)
