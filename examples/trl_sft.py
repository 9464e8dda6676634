"""AlignGuard inside TRL's ``SFTTrainer``: the same mixin as for the HF ``Trainer``, with the
default method, on a conversational dataset (``messages`` rows split into TRL's conversational
prompt/completion form: the earlier turns are the prompt, the last assistant turn the completion,
so TRL computes the loss on the completion only, and the refusal-direction anchor finds each
row's last prompt token; on loss over every token it has no prompt to hold and says so once).

Runs offline in seconds: the shipped organism stands in for your aligned model.
``python examples/trl_sft.py [--output runs/example-trl]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import trl
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer

from alignguard.alignment.settings import AlignmentSettings
from alignguard.models import resolve_model_path
from alignguard.targets import LoraSettings, attach_lora
from alignguard.training.config import TrainConfig
from alignguard.training.hf import alignguard_trainer_class, prepare_method

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="runs/example-trl")
    out = parser.parse_args().output

    folder, _ = resolve_model_path("organism")  # your model: "path/to/aligned-model"
    base = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)

    cfg = TrainConfig(model=str(folder), method="alignguard",
                      alignment=AlignmentSettings(data=str(DATA / "alignment.jsonl")))
    method = prepare_method(cfg, base, tokenizer)  # at the aligned weights, before LoRA
    model = attach_lora(base, LoraSettings(r=8))

    chats = load_dataset("json", data_files=str(DATA / "chat.jsonl"), split="train").map(
        lambda r: {"prompt": r["messages"][:-1], "completion": r["messages"][-1:]},
        remove_columns=["messages"])
    args = trl.SFTConfig(out, max_steps=4, per_device_train_batch_size=4, learning_rate=2e-3,
                         logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                         disable_tqdm=True, max_length=128)
    SFTTrainer = alignguard_trainer_class(trl.SFTTrainer)
    trainer = SFTTrainer(model=model, args=args, train_dataset=chats, processing_class=tokenizer,
                         alignguard_method=method)
    trainer.train()
    trainer.save_model(out)
    last = [row for row in trainer.state.log_history if "loss" in row][-1]
    print(json.dumps({k: v for k, v in last.items()
                      if k in ("step", "loss") or k.startswith("alignguard/reg")}))


if __name__ == "__main__":
    main()
