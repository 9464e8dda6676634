"""AlignGuard inside the Hugging Face ``Trainer``: the default method (a KL behaviour anchor on
alignment replies and the refusal-direction anchor on the task rows) runs in ``Trainer.train`` on
a stock PEFT LoRA model. Any preset works the same way (``method="agl"``: AlignGuard-LoRA's
Fisher penalty, stability and collision terms with the alignment gate).

Runs offline in seconds: the shipped organism stands in for your aligned model (replace the
folder with yours). ``python examples/hf_trainer.py [--output runs/example-hf]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments

from alignguard.alignment.settings import AlignmentSettings
from alignguard.data import Example, collate, encode_example
from alignguard.models import resolve_model_path
from alignguard.targets import LoraSettings, attach_lora
from alignguard.training.config import TrainConfig
from alignguard.training.hf import AlignGuardTrainer, prepare_method

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="runs/example-hf")
    out = parser.parse_args().output

    folder, _ = resolve_model_path("organism")  # your model: "path/to/aligned-model"
    base = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)

    # the method is prepared at the aligned weights, before the adapter is attached
    cfg = TrainConfig(model=str(folder), method="alignguard",
                      alignment=AlignmentSettings(data=str(DATA / "alignment.jsonl")))
    method = prepare_method(cfg, base, tokenizer)
    model = attach_lora(base, LoraSettings(r=8))

    # TRL-style prompt/completion rows -> token ids with the prompt masked out of the loss
    rows = load_dataset("json", data_files=str(DATA / "task.jsonl"), split="train")
    train_dataset = rows.map(
        lambda r: encode_example(tokenizer, Example(r["prompt"], r["completion"]), max_length=128),
        remove_columns=rows.column_names)

    args = TrainingArguments(out, max_steps=5, per_device_train_batch_size=4, learning_rate=2e-3,
                             logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                             remove_unused_columns=False, disable_tqdm=True)
    trainer = AlignGuardTrainer(model=model, args=args, train_dataset=train_dataset,
                                data_collator=lambda batch: collate(batch, tokenizer.pad_token_id),
                                alignguard_method=method)
    trainer.train()
    trainer.save_model(out)  # a stock PEFT adapter: PeftModel.from_pretrained(base, out)
    last = [row for row in trainer.state.log_history if "loss" in row][-1]
    print(json.dumps({k: v for k, v in last.items()
                      if k in ("step", "loss") or k.startswith("alignguard/reg")}))


if __name__ == "__main__":
    main()
