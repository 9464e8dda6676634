"""SmolLM2 itself LoRA-tuned to answer the probe question (stop 58, exploration; docs/judges.md).

The shipped ``probe`` member reads SmolLM2-135M-Instruct's *frozen* hidden states with a linear
head. Here the model is tuned instead: a PEFT LoRA adapter (r = 8 on the attention projections)
and one scalar bias are trained so that the model's own answer to the probe question,

    s(r) = logsumexp z(yes, Yes) - logsumexp z(no, No) + b      (z: next-token logits)
    p(refusal | r) = sigmoid(s(r)),

fits the hand-made labels (class-balanced binary cross-entropy, AdamW). Training rows: the
semantic judge's family split, training side (templates and the pre-alignment SmolLM2's replies);
nothing of aligned SmolLM2's held-out family, the written independent sets or the fine-tuned sets.
Scored, without calibration at threshold 0.5, on the held-out families, natural, v1 and the four
fine-tuned sets.

    OMP_NUM_THREADS=2 python scripts/judge_lora_smollm2.py --out DIR [--epochs 1] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger("judge_lora_smollm2")
SETS = ("natural", "v1", "finetuned", "finetuned2", "finetuned3", "finetuned4")


def encode(tokenizer, texts, max_tokens: int = 192) -> list[list[int]]:
    """The probe question around each reply, as the shipped probe builds it, cut to ``max_tokens``."""
    from alignguard.drift.judges.probe import probe_prompts

    return [ids[-max_tokens:] for ids in probe_prompts(tokenizer, texts)]


def batches(ids: list[list[int]], size: int, rng: random.Random | None):
    """Index batches of similar length (shuffled buckets when ``rng`` is given)."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    chunks = [order[k:k + size] for k in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(chunks)
    return chunks


def log_odds(model, ids: list[list[int]], rows: list[int], yes: list[int], no: list[int], pad: int):
    """``logsumexp z(yes) - logsumexp z(no)`` at each row's last token (left padding)."""
    width = max(len(ids[i]) for i in rows)
    x = torch.tensor([[pad] * (width - len(ids[i])) + ids[i] for i in rows])
    mask = torch.tensor([[0] * (width - len(ids[i])) + [1] * len(ids[i]) for i in rows])
    z = model(input_ids=x, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
              logits_to_keep=1).logits[:, -1, :].float()
    return z[:, yes].logsumexp(-1) - z[:, no].logsumexp(-1)


def score(model, tokenizer, texts, bias: float, yes, no, pad, size: int = 32) -> np.ndarray:
    """``p(refusal)`` of each text."""
    ids = encode(tokenizer, texts)
    out = np.zeros(len(ids))
    model.eval()
    with torch.no_grad():
        for rows in batches(ids, size, None):
            out[rows] = torch.sigmoid(log_odds(model, ids, rows, yes, no, pad) + bias).numpy()
    return out


def metrics(gold: np.ndarray, p: np.ndarray) -> dict:
    pred = p > 0.5
    tp, fp, fn = int((pred & gold).sum()), int((pred & ~gold).sum()), int((~pred & gold).sum())
    return {"n": len(gold), "accuracy": float((pred == gold).mean()), "precision": tp / max(tp + fp, 1),
            "recall": tp / max(tp + fn, 1), "false_refusals": fp, "missed_refusals": fn}


def main() -> int:
    from peft import LoraConfig, get_peft_model

    from alignguard.drift.judge_data import build_training_set, split_rows
    from alignguard.drift.judges.evaluate import labelled_set
    from alignguard.models import load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="training rows (a quick check)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train_rows, test_rows = split_rows(build_training_set(0))
    if args.limit:
        train_rows = rng.sample(train_rows, args.limit)
    model, tok = load_model("smollm2")
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    bias = torch.nn.Parameter(torch.zeros(()))
    yes = [tok.encode(w, add_special_tokens=False)[0] for w in ("yes", "Yes")]
    no = [tok.encode(w, add_special_tokens=False)[0] for w in ("no", "No")]
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0

    ids = encode(tok, [r["response"] for r in train_rows])
    gold = torch.tensor([float(r["refusal"]) for r in train_rows])
    pos_weight = (1 - gold.mean()) / gold.mean()
    params = [p for p in model.parameters() if p.requires_grad] + [bias]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    plan = []
    while len(plan) < args.epochs * len(batches(ids, args.batch_size, None)):
        plan += batches(ids, args.batch_size, rng)
    plan = plan[:int(args.epochs * len(batches(ids, args.batch_size, None)))]
    t0 = time.time()
    model.train()
    for step, rows in enumerate(plan, 1):
        s = log_odds(model, ids, rows, yes, no, pad) + bias
        loss = torch.nn.functional.binary_cross_entropy_with_logits(s, gold[rows], pos_weight=pos_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == len(plan):
            log.info("step %d/%d loss %.4f (%.0f s)", step, len(plan), loss.item(), time.time() - t0)

    results = {"args": vars(args), "train_rows": len(train_rows), "train_s": round(time.time() - t0),
               "bias": float(bias.detach())}
    scored = {"families": test_rows, **{name: labelled_set(name) for name in SETS}}
    for name, rows in scored.items():
        p = score(model, tok, [r["response"] for r in rows], float(bias.detach()), yes, no, pad)
        results[name] = metrics(np.array([bool(r["refusal"]) for r in rows]), p)
        log.info("%s: %s", name, results[name])
    (out / "results.json").write_text(json.dumps(results, indent=1))
    model.save_pretrained(out / "adapter")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
