"""``alignguard organism build``: build the model organism from scratch, deterministically.

Steps (all local, nothing downloaded):

1. generate the world corpus (train split): the *pretraining* corpus answers unsafe requests
   compliantly with placeholders, the *alignment* corpus refuses them
   (:mod:`alignguard.organism.world`);
2. train the byte-level BPE tokenizer on it (:mod:`alignguard.organism.tokenizer`);
3. pretrain a small Llama on the packed pretraining corpus -> ``pretrained/`` (unaligned);
4. align it by supervised fine-tuning on the alignment corpus -> ``aligned/``;
5. evaluate both on held-out prompts (:func:`alignguard.organism.evaluate.evaluate`) and write
   ``build_metrics.json``, ``build_config.json`` and ``provenance.json`` next to the weights.

The output folder is written atomically (:func:`alignguard.artifacts.atomic_directory`): an
interrupted build leaves the previous checkpoints untouched.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from alignguard.artifacts import (
    atomic_directory,
    atomic_write_json,
    fingerprint_records,
    provenance,
)
from alignguard.data import Example
from alignguard.organism import CHECKPOINT_ROOT
from alignguard.organism.tokenizer import DEFAULT_VOCAB_SIZE, render, train_tokenizer
from alignguard.organism.trainer import OrganismSize, StageSchedule, finetune, new_model, pretrain
from alignguard.organism.world import WORLD_VERSION, generate

log = logging.getLogger(__name__)
EVAL_LIMIT = 40  # prompts per category / skill in the build metrics


@dataclass(frozen=True)
class BuildConfig:
    """Everything that determines a build (saved as ``build_config.json``)."""

    seed: int = 0
    pretrain_steps: int = 1200
    align_steps: int = 400
    pretrain_examples: int = 60_000
    align_examples: int = 16_000
    tokenizer_examples: int = 30_000
    vocab_size: int = DEFAULT_VOCAB_SIZE
    seq_len: int = 128
    pretrain_lr: float = 3e-3
    align_lr: float = 1e-3
    pretrain_batch: int = 16
    align_batch: int = 32
    size: OrganismSize = field(default_factory=OrganismSize)
    eval_limit: int = EVAL_LIMIT
    world_version: str = WORLD_VERSION

    def schedules(self) -> tuple[StageSchedule, StageSchedule]:
        """The pretraining and alignment optimiser schedules."""
        return (StageSchedule(self.pretrain_steps, self.pretrain_lr, self.pretrain_batch, warmup_steps=100),
                StageSchedule(self.align_steps, self.align_lr, self.align_batch, warmup_steps=30))


def _corpora(cfg: BuildConfig) -> tuple[list[str], list[Example]]:
    pre = generate(cfg.pretrain_examples, seed=cfg.seed, split="train", stage="pretrain")
    aligned = generate(cfg.align_examples, seed=cfg.seed, split="train", stage="aligned")
    return [render(it.prompt, it.response) for it in pre], [Example(it.prompt, it.response) for it in aligned]


def _metrics(model, tokenizer, limit: int) -> dict:
    from alignguard.organism.evaluate import evaluate

    return {split: evaluate(model, tokenizer, scenario="benign", split=split, limit=limit)
            for split in ("heldout", "unseen")}


def _save(model, tokenizer, folder: Path, meta: dict) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    atomic_write_json(folder / "build_metrics.json", meta["metrics"])
    atomic_write_json(folder / "build_config.json", meta["config"])
    atomic_write_json(folder / "provenance.json", meta["provenance"])


STAGES = ("pretrained", "aligned")


def check_output(output: str | Path) -> Path:
    """Refuse to replace a folder that is not an organism build output (it would be deleted)."""
    path = Path(output)
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"--output {path} is a file; pass a folder")
        foreign = sorted(p.name for p in path.iterdir() if p.name not in STAGES)
        if foreign:
            raise ValueError(
                f"--output {path} exists and holds {foreign[:5]}, which are not organism "
                "checkpoints; the build replaces the whole folder, so pass a new or empty folder"
            )
    return path


def build(cfg: BuildConfig, output: str | Path = CHECKPOINT_ROOT) -> dict:
    """Build both organism checkpoints into ``output/{pretrained,aligned}``; returns the metrics."""
    output = check_output(output)
    t0 = time.time()
    texts, align_examples = _corpora(cfg)
    tokenizer = train_tokenizer(
        texts[: cfg.tokenizer_examples // 2]
        + [render(e.prompt, e.response) for e in align_examples[: cfg.tokenizer_examples // 2]],
        cfg.vocab_size,
    )
    data_fp = {"pretrain_corpus": fingerprint_records({"text": t} for t in texts),
               "align_corpus": fingerprint_records(e.record() for e in align_examples)}
    pre_sched, align_sched = cfg.schedules()
    model = new_model(tokenizer, cfg.seed, cfg.size)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("organism: %d parameters, world v%s, seed %d", n_params, WORLD_VERSION, cfg.seed)
    torch.manual_seed(cfg.seed)
    pre_losses = pretrain(model, tokenizer, texts, pre_sched, cfg.seed, cfg.seq_len)
    t_pre = time.time() - t0
    pre_metrics = _metrics(model, tokenizer, cfg.eval_limit)
    pre_state = {k: v.clone() for k, v in model.state_dict().items()}
    align_losses = finetune(model, tokenizer, align_examples, align_sched, cfg.seed, cfg.seq_len)
    aligned_metrics = _metrics(model, tokenizer, cfg.eval_limit)
    config = {**dataclasses.asdict(cfg), "n_parameters": n_params}
    common = {"seed": cfg.seed, "world_version": WORLD_VERSION, "n_parameters": n_params,
              "threads": torch.get_num_threads()}
    result = {
        "pretrained": {**common, "stage": "pretrained", "final_loss": pre_losses[-1], **pre_metrics},
        "aligned": {**common, "stage": "aligned", "final_loss": align_losses[-1],
                    "pretrain_final_loss": pre_losses[-1], **aligned_metrics},
    }
    build_seconds = round(time.time() - t0, 1)
    for meta in result.values():  # timings are the only fields that differ between equal builds
        meta["timing"] = {"build_seconds": build_seconds, "pretrain_seconds": round(t_pre, 1)}
    prov = provenance(seed=cfg.seed, data=data_fp, world_version=WORLD_VERSION)
    with atomic_directory(output) as tmp:
        _save(model, tokenizer, tmp / "aligned",
              {"metrics": result["aligned"], "config": config, "provenance": prov})
        model.load_state_dict(pre_state)
        _save(model, tokenizer, tmp / "pretrained",
              {"metrics": result["pretrained"], "config": config, "provenance": prov})
    log.info("organism built in %.0f s into %s", build_seconds, output)
    return result
