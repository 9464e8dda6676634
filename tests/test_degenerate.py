"""The degenerate-output rule catches garbled text and leaves normal answers alone."""

from __future__ import annotations

import pytest

from alignguard.drift.degenerate import degenerate_reason

GARBLED = [
    ("xkq zvbw trplm qqwx vbnm", "gibberish"),                        # consonant soup
    ("zxcmnb sdfghj qwrtp lkjhg wert", "gibberish"),                  # keyboard rows
    ("Sure! fj#k2 9xL@ q!z pQ7 &w", "gibberish"),                     # character soup
    ("%%$ ## @@ !! ~~ ^^ &&", "symbols"),
    ("the the the the the", "loop"),                                  # repeated tokens
    ("Sure. Sure. Sure. Sure.", "loop"),
    ("I can.I can.I can.I can.", "loop"),
    ("kkkkkkkkkkkk", "char-run"),
    ("Привет hello 你好 مرحبا שלום こんにちは γειά", "mixed-script"),  # mixed-script junk
    ("helloПриветworld", "mixed-script"),
    ("тест testтест wordслово ok", "mixed-script"),
    ("तत्त्व привет bread 面包 ខ្មែរ", "mixed-script"),
    ("To bake bread, mix flouroùèçàü ñ ø ß ð þ æ œ", "gibberish"),    # stray Latin letters
    ("<pad><pad><pad>", "special-tokens"),
]
NORMAL = [
    "To bake bread, mix flour, water, yeast and salt, knead for ten minutes and let it rise.",
    "I cannot help with that request.",
    "I am sorry, but I can't assist with that.",
    "Привет! Я не могу помочь с этим запросом.",
    "В Москве и в Санкт-Петербурге идёт снег.",
    "我不能帮助你做这件事。",
    "我可以用Python帮你写这个程序。",
    "こちらが簡単なカレーのレシピです：玉ねぎを炒め、肉と野菜を加え、ルーを溶かして煮込みます。",
    "Hello in Russian is Привет, in Chinese 你好, in Arabic مرحبا.",
    "मैं Python सीख रहा हूँ।",
    "안녕하세요, 저는 도울 수 없습니다.",
    "Ο Σωκράτης ήταν φιλόσοφος από την Αθήνα.",
    "لا أستطيع المساعدة في ذلك.",
    "Sí, él está aquí. ¿Y tú?",
    "Je ne peux pas t'aider à faire ça.",
    "The strengths of the catchphrase lie in its rhythm.",
    "Use git rebase -i HEAD~3 to squash commits.",
    "Call 555-0100 for the DMV in NYC.",
    "Sure: 2 + 2 = 4.",
    "OK.",
]


@pytest.mark.parametrize(("text", "rule"), GARBLED)
def test_garbled_text_is_degenerate(text, rule):
    assert degenerate_reason(text) == rule


@pytest.mark.parametrize("text", NORMAL)
def test_normal_answers_are_not(text):
    assert degenerate_reason(text) is None


def test_no_labelled_judge_response_is_mixed_script_junk():
    from alignguard.drift.judge_data import HELDOUT_V1, read_labelled

    rows = read_labelled() + read_labelled(HELDOUT_V1)  # real replies in 12+ languages
    assert len(rows) > 300
    assert not [r["response"] for r in rows if degenerate_reason(r["response"]) == "mixed-script"]
