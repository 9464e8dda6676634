"""Step time of AlignGuard's own loop vs the Hugging Face Trainer, plain LoRA, printed as JSON.

Both train the shipped organism (``load_model("organism")``) with a PEFT LoRA adapter of the
same settings (``LoraSettings()``: r 8 on attention + MLP, the same init seed) on the same encoded
rows (``scenario:benign``), at the same batch size, learning rate, cosine schedule and clipping,
on the CPU:

* own loop: ``alignguard.training.loop.train`` with ``method="lora"`` (no penalty, no gate);
* Trainer: ``transformers.Trainer`` on the same PEFT model, the rows as a ``datasets.Dataset``
  in the own loop's shuffled order read sequentially, and the loop's collate function: both see
  the same batches (the same padded widths), so the step times compare the same work.

Each run's time per optimizer step is taken between consecutive steps (the own loop's step
callback, the Trainer's ``on_step_end``), the first ``--warmup`` steps dropped, as process CPU
time (one thread: what the step costs, little moved by other processes on a shared machine) and
as wall time; the runs alternate (loop, Trainer, loop, Trainer, ...) so machine noise hits both.
The ratio is median(own loop) / median(Trainer) of the CPU times; target <= 1.05. Example
(a few minutes on one thread)::

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


def _rows_in_loop_order(tokenizer, seed: int = 0) -> list[dict]:
    """The encoded rows in the order the own loop's first epoch reads them
    (:func:`alignguard.data.iterate_batches`: ``random.Random(seed * 1_000_003).shuffle``)."""
    import random

    from alignguard.data import encode_examples
    from alignguard.dataspec import load_dataset_spec

    encoded = encode_examples(tokenizer, load_dataset_spec("scenario:benign"), MAX_LEN)
    order = list(range(len(encoded)))
    random.Random(seed * 1_000_003).shuffle(order)
    return [encoded[i] for i in order]


def _stamp() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def _intervals(stamps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(CPU s, wall s) between consecutive stamps."""
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps, stamps[1:], strict=False)]


def own_loop(steps: int, batch: int, workdir: Path) -> list[tuple[float, float]]:
    """(CPU, wall) seconds per optimizer step of ``train(method="lora")``."""
    from alignguard.models import load_model
    from alignguard.training.config import TrainConfig
    from alignguard.training.loop import train

    model, tok = load_model("organism")
    cfg = TrainConfig(model="organism", data="scenario:benign", method="lora", steps=steps,
                      batch_size=batch, lr=LR, warmup_steps=0, log_every=steps, save_every=0,
                      max_length=MAX_LEN, output_dir=str(workdir / "loop"), seed=0)
    stamps: list[tuple[float, float]] = []
    train(cfg, model=model, tokenizer=tok, progress=False, overwrite=True,
          callbacks=[lambda step, m: stamps.append(_stamp())])
    return _intervals(stamps)


def hf_trainer(steps: int, batch: int, workdir: Path) -> list[tuple[float, float]]:
    """(CPU, wall) seconds per optimizer step of ``transformers.Trainer``, same PEFT LoRA model."""
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from alignguard.data import collate, pad_id_of
    from alignguard.models import load_model
    from alignguard.targets import LoraSettings, attach_lora

    model, tok = load_model("organism")
    model = attach_lora(model, LoraSettings(init_seed=0))
    stamps: list[tuple[float, float]] = []

    class Stamp(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(_stamp())

    pad = pad_id_of(tok)
    args = TrainingArguments(
        output_dir=str(workdir / "hf"), max_steps=steps, per_device_train_batch_size=batch,
        learning_rate=LR, lr_scheduler_type="cosine", warmup_steps=0, weight_decay=0.0,
        max_grad_norm=1.0, logging_steps=steps, save_strategy="no", report_to=[], use_cpu=True,
        dataloader_num_workers=0, disable_tqdm=True, seed=0, remove_unused_columns=False)
    class InLoopOrder(Trainer):
        def _get_train_sampler(self, *args, **kwargs):
            from torch.utils.data import SequentialSampler

            return SequentialSampler(self.train_dataset)

    InLoopOrder(model=model, args=args, train_dataset=Dataset.from_list(_rows_in_loop_order(tok)),
                data_collator=lambda feats: collate(feats, pad), callbacks=[Stamp()]).train()
    return _intervals(stamps)


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
    med = statistics.median
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            total = args.steps + args.warmup + 1  # n stamps give n-1 intervals
            a = own_loop(total, args.batch, Path(tmp))[args.warmup:]
            b = hf_trainer(total, args.batch, Path(tmp))[args.warmup:]
            loop, hf = loop + a, hf + b
            ratios.append(round(med([x[0] for x in a]) / med([x[0] for x in b]), 3))
    cpu = (med([x[0] for x in loop]), med([x[0] for x in hf]))
    wall = (med([x[1] for x in loop]), med([x[1] for x in hf]))
    out = {"own_loop_cpu_s_per_step": cpu[0], "trainer_cpu_s_per_step": cpu[1],
           "ratio": cpu[0] / cpu[1], "ratio_per_repeat": ratios,
           "own_loop_wall_s_per_step": wall[0], "trainer_wall_s_per_step": wall[1],
           "wall_ratio": wall[0] / wall[1], "steps_each": len(loop),
           "batch": args.batch, "threads": args.threads, "model": "organism", "method": "plain LoRA"}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
