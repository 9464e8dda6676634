"""Step time of AlignGuard's own loop vs the Hugging Face Trainer, plain LoRA, printed as JSON.

Both train the shipped organism (``load_model("organism")``) with a PEFT LoRA adapter of the
same settings (``LoraSettings()``: r 8 on attention + MLP, the same init seed) on the same encoded
rows (``scenario:benign``), at the same batch size, learning rate, cosine schedule and clipping,
on the CPU:

* own loop: ``alignguard.training.loop.train`` with ``method="lora"`` (no penalty, no gate);
* Trainer: ``transformers.Trainer`` on the same PEFT model, the rows as a ``datasets.Dataset``
  and the loop's collate function.

Each run's wall time per optimizer step is taken between consecutive steps (the own loop's step
callback, the Trainer's ``on_step_end``), the first ``--warmup`` steps dropped; the runs
alternate (loop, Trainer, loop, Trainer, ...) so machine noise hits both. The ratio is
median(own loop) / median(Trainer); target <= 1.05. Example (~1 minute on one thread)::

    OMP_NUM_THREADS=1 python benchmarks/trainer_vs_loop.py --steps 30 --warmup 5 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

LR, MAX_LEN = 2e-3, 128


def _rows(tokenizer, limit: int) -> list[dict]:
    from alignguard.data import encode_examples
    from alignguard.dataspec import load_dataset_spec

    return encode_examples(tokenizer, load_dataset_spec("scenario:benign")[:limit], MAX_LEN)


def own_loop(steps: int, batch: int, workdir: Path) -> list[float]:
    """Seconds per optimizer step of ``train(method="lora")``."""
    from alignguard.models import load_model
    from alignguard.training.config import TrainConfig
    from alignguard.training.loop import train

    model, tok = load_model("organism")
    cfg = TrainConfig(model="organism", data="scenario:benign", method="lora", steps=steps,
                      batch_size=batch, lr=LR, warmup_steps=0, log_every=steps, save_every=0,
                      max_length=MAX_LEN, output_dir=str(workdir / "loop"), seed=0)
    stamps: list[float] = []
    train(cfg, model=model, tokenizer=tok, progress=False, overwrite=True,
          callbacks=[lambda step, m: stamps.append(time.perf_counter())])
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def hf_trainer(steps: int, batch: int, workdir: Path) -> list[float]:
    """Seconds per optimizer step of ``transformers.Trainer`` on the same PEFT LoRA model."""
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from alignguard.data import collate, pad_id_of
    from alignguard.models import load_model
    from alignguard.targets import LoraSettings, attach_lora

    model, tok = load_model("organism")
    model = attach_lora(model, LoraSettings(init_seed=0))
    stamps: list[float] = []

    class Stamp(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(time.perf_counter())

    pad = pad_id_of(tok)
    args = TrainingArguments(
        output_dir=str(workdir / "hf"), max_steps=steps, per_device_train_batch_size=batch,
        learning_rate=LR, lr_scheduler_type="cosine", warmup_steps=0, weight_decay=0.0,
        max_grad_norm=1.0, logging_steps=steps, save_strategy="no", report_to=[], use_cpu=True,
        dataloader_num_workers=0, disable_tqdm=True, seed=0, remove_unused_columns=False)
    Trainer(model=model, args=args, train_dataset=Dataset.from_list(_rows(tok, 4000)),
            data_collator=lambda feats: collate(feats, pad), callbacks=[Stamp()]).train()
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="measured steps per run")
    parser.add_argument("--warmup", type=int, default=5, help="steps dropped at the start of a run")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    loop, hf, ratios = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            total = args.steps + args.warmup + 1  # n stamps give n-1 intervals
            a = own_loop(total, args.batch, Path(tmp))[args.warmup:]
            b = hf_trainer(total, args.batch, Path(tmp))[args.warmup:]
            loop, hf = loop + a, hf + b
            ratios.append(round(statistics.median(a) / statistics.median(b), 3))
    out = {"own_loop_s_per_step": statistics.median(loop), "trainer_s_per_step": statistics.median(hf),
           "ratio": statistics.median(loop) / statistics.median(hf), "ratio_per_repeat": ratios,
           "steps_each": len(loop),
           "batch": args.batch, "threads": args.threads, "model": "organism", "method": "plain LoRA"}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
