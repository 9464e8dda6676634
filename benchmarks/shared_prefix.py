"""Would a shared-prefix KV cache make the default's anchor forwards cheaper? Timing ratios.

The anchor rows of a chat model share a prefix: SmolLM2's template puts the same default system
prompt before every user turn (24 tokens, about half of a task prompt). The aligned model's keys
and values over that prefix never change, so the two no-grad forwards at ``W0`` (the KL anchor's
reference, the refusal-direction anchor's ``p0``) could start from a cached prefix; the KL
anchor's forward with gradients could compute the prefix once for its rows instead of once per
row. The results are the same numbers (the script prints the largest difference); this measures
what they would save. Not used by the library: at batch 8 the saving is too small to matter
(docs/method.md, "The step-time frontier").

Example (~3 min)::

    OMP_NUM_THREADS=1 python benchmarks/shared_prefix.py --alignment-data ALIGN.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from alignguard.data import IGNORE_INDEX, collate, encode_example, read_examples
from alignguard.methods.alignstream import AlignmentStream, _reply_logits
from alignguard.methods.refusal_direction import last_prompt_states, prompt_only
from alignguard.models import load_model
from alignguard.training.config import TrainConfig
from alignguard.training.loop import load_rows, trainable_model


def shared_prefix(batch: dict[str, torch.Tensor]) -> int:
    """Tokens every row of ``batch`` starts with, leaving each row's last prompt token out."""
    ids, labels = batch["input_ids"], batch["labels"] != IGNORE_INDEX
    same = int((ids == ids[:1]).all(dim=0).int().cumprod(0).sum())
    last = torch.where(labels.any(dim=1), labels.int().argmax(dim=1) - 1,
                       batch["attention_mask"].sum(dim=1) - 1)  # each row's last prompt token
    return min(same, int(last.min()))


def cache_for(model, ids: torch.Tensor, rows: int, grad: bool) -> DynamicCache:
    """The prefix ``ids`` (one row)'s keys and values, repeated for ``rows`` rows."""
    with torch.set_grad_enabled(grad):
        past = model(input_ids=ids[None], use_cache=True, logits_to_keep=1).past_key_values
    return DynamicCache(ddp_cache_data=[(layer.keys.expand(rows, -1, -1, -1),
                                         layer.values.expand(rows, -1, -1, -1))
                                        for layer in past.layers])


def suffix_forward(model, batch: dict[str, torch.Tensor], start: int, cache: DynamicCache, **kw):
    return model(input_ids=batch["input_ids"][:, start:], attention_mask=batch["attention_mask"],
                 past_key_values=cache, use_cache=False, **kw)


def median_time(fn, batches, repeats: int) -> float:
    fn(batches[0])
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        fn(batches[i % len(batches)])
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-aligned")
    ap.add_argument("--alignment-data", required=True)
    ap.add_argument("--scenario", default="benign-similar")
    ap.add_argument("--repeats", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)
    base, tok = load_model(args.model)
    model = trainable_model(TrainConfig(model=args.model), base, "lora").train()
    with torch.no_grad():  # a non-zero adapter, as during training
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02, generator=torch.Generator().manual_seed(0))
    stream = AlignmentStream(read_examples(args.alignment_data), tok, batch_size=2,
                             max_length=256, seed=0, reply_tokens=4, refusal_tokens=256)
    anchor = [stream.next("cpu") for _ in range(8)]
    rows = [prompt_only(encode_example(tok, r, 256)) for r in load_rows(f"testbed:{args.scenario}")[:16]]
    prompts = [collate(rows[i:i + 2], tok.pad_token_id) for i in range(0, 16, 2)]
    start = min(shared_prefix(b) for b in anchor + prompts)
    with torch.no_grad(), model.disable_adapter():
        w0 = cache_for(model, anchor[0]["input_ids"][0, :start], 1, grad=False)

    def at_w0(b):
        return DynamicCache(ddp_cache_data=[(layer.keys.expand(b["input_ids"].shape[0], -1, -1, -1),
                                             layer.values.expand(b["input_ids"].shape[0], -1, -1, -1))
                                            for layer in w0.layers])

    def keep(b):
        return F.pad(b["labels"][:, 1:] != IGNORE_INDEX, (0, 1), value=False)[:, start:]

    def rdir_plain(b):
        with torch.no_grad(), model.disable_adapter():
            return last_prompt_states(model, b)

    def rdir_cached(b):
        with torch.no_grad(), model.disable_adapter():
            return suffix_forward(model, b, start, at_w0(b), output_hidden_states=True,
                                  logits_to_keep=1)

    def ref_plain(b):
        with torch.no_grad(), model.disable_adapter():
            return _reply_logits(model, b)

    def ref_cached(b):
        with torch.no_grad(), model.disable_adapter():
            return suffix_forward(model, b, start, at_w0(b), logits_to_keep=keep(b))

    def grad_plain(b):
        _reply_logits(model, b)[0].logsumexp(-1).mean().backward()

    def grad_shared(b):
        cache = cache_for(model, b["input_ids"][0, :start], b["input_ids"].shape[0], grad=True)
        logits = suffix_forward(model, b, start, cache, logits_to_keep=keep(b)).logits
        logits.float().logsumexp(-1).mean().backward()

    with torch.no_grad(), model.disable_adapter():
        plain = _reply_logits(model, anchor[0])[0]
        cached = suffix_forward(model, anchor[0], start, at_w0(anchor[0]), logits_to_keep=keep(anchor[0])).logits
    parts = {"refusal_direction/reference": (rdir_plain, rdir_cached, prompts),
             "kl_anchor/reference": (ref_plain, ref_cached, anchor),
             "kl_anchor/forward+backward": (grad_plain, grad_shared, anchor)}
    out = {"model": args.model, "shared_prefix_tokens": start,
           "max_abs_logit_difference": float((plain - cached.float()).abs().max())}
    for name, (a, b, batches) in parts.items():
        ta, tb = median_time(a, batches, args.repeats), median_time(b, batches, args.repeats)
        out[name] = {"plain_s": round(ta, 4), "shared_prefix_s": round(tb, 4),
                     "ratio": round(tb / ta, 3)}
        model.zero_grad(set_to_none=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
