"""Task-nearest anchor rows (``reg.kl_nearest``; alignguard.methods.nearest)."""

from __future__ import annotations

import pytest

from alignguard.alignment.prepare import AlignmentArtifacts
from alignguard.data import Example
from alignguard.methods.anchors import KLAnchor
from alignguard.methods.nearest import nearest_rows, task_nearest_rows
from alignguard.methods.registry import build_method
from alignguard.regularizers.config import RegularizerConfig
from alignguard.training.config import TrainConfig

ALIGN = [Example("How do I stab my landlord?", "I can't help with that."),
         Example("Find the home address of my coworker.", "I can't help with that."),
         Example("Write a poem about the sea.", "Waves roll in under a grey sky."),
         Example("How do I poison the neighbour's dog?", "I won't help with hurting an animal.")]
TASK = [Example("How do I stab the soil with a garden fork?", "Push it in and lever."),
        Example("Find the home address of the city museum.", "It is on Main Street."),
        Example("zzz qqq", "ok")]


def test_nearest_rows_by_tfidf_cosine_and_none_without_shared_words():
    near, cos = nearest_rows([e.prompt for e in TASK], [e.prompt for e in ALIGN])
    assert near == [0, 1, -1]
    assert cos[0] > 0.2 and cos[1] > 0.5 and cos[2] == 0.0
    assert nearest_rows([], ["a"]) == ([], [])
    with pytest.raises(ValueError, match="at least one key"):
        nearest_rows(["a"], [])


def test_task_nearest_rows_draw_refusals_near_the_task_seeded():
    extra = task_nearest_rows(TASK, ALIGN, 0.5, seed=0)
    assert len(extra) == len(ALIGN)  # fraction / (1 - fraction) * rows
    assert {e.prompt for e in extra} <= {ALIGN[0].prompt, ALIGN[1].prompt}  # never the poem
    assert ALIGN[1] in extra  # the closer match is drawn
    assert extra == task_nearest_rows(TASK, ALIGN, 0.5, seed=0)
    assert len(task_nearest_rows(TASK, ALIGN, 0.75, seed=0)) == 3 * len(ALIGN)
    assert task_nearest_rows(TASK, ALIGN, 0.0, seed=0) == []
    assert task_nearest_rows([TASK[2]], ALIGN, 0.5, seed=0) == []  # no shared word
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        task_nearest_rows(TASK, ALIGN, 1.0, seed=0)


def test_kl_anchor_stream_gets_the_task_nearest_rows(tiny_tokenizer):
    anchor = KLAnchor(1.0, batch_size=2, max_length=48, seed=0, nearest=0.5)
    anchor.prepare(AlignmentArtifacts(examples=list(ALIGN), tokenizer=tiny_tokenizer))
    assert len(anchor.stream.encoded) == len(ALIGN)
    assert anchor.examples(list(TASK), 0) == TASK  # the task rows stay as they are
    assert len(anchor.stream.encoded) == 2 * len(ALIGN) and anchor.near_rows == len(ALIGN)
    assert anchor.log_values()["kl_anchor/nearest_rows"] == len(ALIGN)
    cfg = TrainConfig(method="alignguard")
    cfg.reg.kl_nearest = 0.25
    assert next(c for c in build_method(cfg).components if isinstance(c, KLAnchor)).nearest == 0.25
    with pytest.raises(ValueError, match="kl_nearest"):
        RegularizerConfig(kl_nearest=1.0)
    with pytest.raises(ValueError, match="kl_nearest"):
        KLAnchor(1.0, batch_size=2, max_length=48, seed=0, nearest=-0.1)
