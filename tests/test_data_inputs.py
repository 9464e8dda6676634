"""Training data in Hugging Face form: datasets objects, json/parquet/csv files, save_to_disk
folders, TRL formats, and the loss on every assistant turn or the last."""

from __future__ import annotations

import json

import pytest

from alignguard.data import IGNORE_INDEX, DataError, Example, encode_example
from alignguard.datafiles import examples_from_dataset
from alignguard.dataspec import load_dataset_spec

ROWS = [{"prompt": f"bake bread {i}", "completion": f"sure {i}"} for i in range(3)]
CHAT = {"messages": [{"role": "system", "content": "You are terse."},
                     {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                     {"role": "user", "content": "Weather?"},
                     {"role": "assistant", "content": "cold"}]}


def _same(examples):
    assert [(e.prompt, e.response) for e in examples] == [(r["prompt"], r["completion"]) for r in ROWS]


def test_datasets_object_and_every_local_file_format(tmp_path):
    from datasets import Dataset, DatasetDict

    ds = Dataset.from_list(ROWS)
    _same(examples_from_dataset(ds))
    _same(examples_from_dataset(DatasetDict(train=ds)))
    ds.to_parquet(str(tmp_path / "d.parquet"))
    ds.to_csv(str(tmp_path / "d.csv"), index=False)
    (tmp_path / "d.json").write_text(json.dumps(ROWS))  # a JSON array
    ds.save_to_disk(str(tmp_path / "saved"))
    DatasetDict(train=ds).save_to_disk(str(tmp_path / "saved_dict"))
    for name in ("d.parquet", "d.csv", "d.json", "saved", "saved_dict"):
        _same(load_dataset_spec(str(tmp_path / name)))


def test_messages_and_preference_rows_from_a_dataset(tmp_path):
    from datasets import Dataset

    chat = examples_from_dataset(Dataset.from_list([CHAT]))[0]
    assert (chat.prompt, chat.response) == ("Weather?", "cold") and len(chat.context) == 3
    pref = Dataset.from_list([{"prompt": "p", "chosen": "c", "rejected": "r"},
                              {"prompt": "q", "chosen": "d", "rejected": None}])
    first, second = examples_from_dataset(pref)
    assert (first.response, first.rejected, second.rejected) == ("c", "r", None)


@pytest.mark.parametrize(("rows", "message"), [
    ([{"question": "a", "answer": "b"}], r"has columns \['answer', 'question'\]; expected one of"),
    ([{"prompt": "a", "completion": "b"}, {"prompt": "a", "completion": ""}],
     r"row 1: missing or empty 'response'"),
    ([], "is empty"),
])
def test_bad_datasets_fail_with_one_line_naming_the_problem(tmp_path, rows, message):
    from datasets import Dataset

    ds = Dataset.from_list(rows) if rows else Dataset.from_dict({"prompt": [], "completion": []})
    with pytest.raises(DataError, match=message) as info:
        examples_from_dataset(ds, "mine")
    assert "\n" not in str(info.value)
    ds.to_parquet(str(tmp_path / "bad.parquet"))
    with pytest.raises(DataError, match=message):
        load_dataset_spec(str(tmp_path / "bad.parquet"))


def test_a_folder_that_is_not_a_saved_dataset_is_refused(tmp_path):
    with pytest.raises(DataError, match="save_to_disk"):
        load_dataset_spec(str(tmp_path))


def _learned(tok, enc) -> str:
    return tok.decode([t for t, lab in zip(enc["input_ids"], enc["labels"], strict=True)
                       if lab != IGNORE_INDEX])


def test_loss_on_every_assistant_turn_or_only_the_last(tiny_tokenizer):
    from alignguard.data import _row_to_example

    ex = _row_to_example(CHAT, "chat")
    last = encode_example(tiny_tokenizer, ex, 256)
    every = encode_example(tiny_tokenizer, ex, 256, assistant_turns="all")
    assert _learned(tiny_tokenizer, last) == "cold<eos>"
    # the template renders "assistant: Hello\n": the earlier reply and its end of turn are learned
    assert _learned(tiny_tokenizer, every) == "Hello\ncold<eos>"
    assert tiny_tokenizer.decode(every["input_ids"]) == tiny_tokenizer.decode(last["input_ids"])
    masked = [i for i, lab in enumerate(every["labels"]) if lab == IGNORE_INDEX]
    assert tiny_tokenizer.decode([every["input_ids"][i] for i in masked]).count("You are terse.") == 1
    single = Example("Hi", "Hello")  # no earlier assistant turn: both options agree
    assert encode_example(tiny_tokenizer, single, 64, assistant_turns="all") == \
        encode_example(tiny_tokenizer, single, 64)
    with pytest.raises(ValueError, match="assistant_turns"):
        encode_example(tiny_tokenizer, single, 64, assistant_turns="first")


def test_assistant_turns_without_a_chat_template(tiny_tokenizer):
    from alignguard.data import _row_to_example

    plain = tiny_tokenizer.__class__(tokenizer_object=tiny_tokenizer.backend_tokenizer,
                                     eos_token="<eos>", pad_token="<pad>")
    ex = _row_to_example(CHAT, "chat")
    assert _learned(plain, encode_example(plain, ex, 256, assistant_turns="all")) == "Hello\ncold<eos>"
