"""What a run reports besides ``log.jsonl``: the periodic evaluation and the trackers.

* **Evaluation** (``eval_every`` steps, and the last step): the mean next-token NLL over every
  label token of ``eval_data``, ``eval_loss = sum_rows NLL / tokens`` (rows split over the
  processes and summed back), in eval mode and without gradients, so the training stream and
  its random state are untouched and a resumed run stays exact.
* **Trackers** (``report_to``): accelerate's tracking API (``Accelerator(log_with=...)``,
  ``init_trackers``, ``log``, ``end_training``): TensorBoard event files or an offline W&B run
  under ``output_dir/trackers``. Each log row's numbers go to them at its step.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from alignguard.data import IGNORE_INDEX, Example, encoded_batches

log = logging.getLogger(__name__)
TRACKER_DIR = "trackers"


def tracker_kwargs(cfg) -> dict:
    """``Accelerator`` keyword arguments for ``cfg.report_to`` (empty for "none")."""
    names = cfg.trackers()
    if not names:
        return {}
    return {"log_with": names, "project_dir": str(Path(cfg.output_dir) / TRACKER_DIR)}


def _scalars(cfg_dict: dict, prefix: str = "") -> dict[str, int | float | str | bool]:
    """The config flattened to dotted keys with scalar values (what TensorBoard's hparams take)."""
    out: dict[str, int | float | str | bool] = {}
    for key, value in cfg_dict.items():
        if isinstance(value, dict):
            out.update(_scalars(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return out


class Reporter:
    """The run's evaluation and trackers; ``log(row)`` sends a log row to the trackers."""

    def __init__(self, cfg, accelerator, tokenizer, eval_rows: Sequence[Example] | None) -> None:
        self.cfg, self.accelerator = cfg, accelerator
        self.eval_batches = encoded_batches(
            tokenizer, eval_rows, batch_size=cfg.batch_size, max_length=cfg.max_length,
            assistant_turns=cfg.assistant_turns) if eval_rows and cfg.eval_every else []
        self.tracking = bool(cfg.trackers())
        if self.tracking:
            if "wandb" in cfg.trackers():
                os.environ.setdefault("WANDB_MODE", "offline")
            tracker_dir = str(Path(cfg.output_dir) / TRACKER_DIR)
            Path(tracker_dir).mkdir(parents=True, exist_ok=True)  # wandb.init(dir=) needs it
            accelerator.init_trackers(Path(cfg.output_dir).name or "alignguard",
                                      config=_scalars(cfg.resolved()),
                                      init_kwargs={"wandb": {"dir": tracker_dir}})

    def due(self, step: int) -> bool:
        """Whether ``step`` is an evaluation step (every ``eval_every``, and the last)."""
        return bool(self.eval_batches) and (step % self.cfg.eval_every == 0 or step == self.cfg.steps)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> float:
        """Mean token NLL of the eval rows (every process takes rows ``rank::world``)."""
        from alignguard.training.step import task_loss_sum

        acc = self.accelerator
        world, rank = acc.num_processes, acc.process_index
        was_training = model.training
        model.eval()
        total = torch.zeros(2, dtype=torch.float64, device=acc.device)
        for batch in self.eval_batches:
            local = {k: v[rank::world].to(acc.device) for k, v in batch.items()}
            if local["input_ids"].shape[0]:
                total[0] += float(task_loss_sum(model, local))
                total[1] += int((local["labels"][:, 1:] != IGNORE_INDEX).sum())
        if world > 1:
            total = acc.reduce(total, reduction="sum")
        model.train(was_training)
        return float(total[0] / total[1].clamp(min=1))

    def log(self, row: dict) -> None:
        """Send the numbers of a log row to the trackers (main process)."""
        if self.tracking:
            self.accelerator.log({k: v for k, v in row.items() if k != "step"
                                  and isinstance(v, (int, float)) and not isinstance(v, bool)},
                                 step=int(row["step"]))

    def close(self) -> None:
        """Flush and close the trackers."""
        if self.tracking:
            self.accelerator.end_training()


__all__ = ["TRACKER_DIR", "Reporter", "tracker_kwargs"]
