"""The organism's tokenizer: a byte-level BPE trained locally on world text, with a chat template.

The BPE model is trained with the ``tokenizers`` library on the build corpus (train split only,
so held-out phrasings are tokenised with pieces learnt from other text) and wrapped as a
``transformers.PreTrainedTokenizerFast``. A conversation is rendered as::

    <s><|user|>PROMPT<|assistant|>RESPONSE</s>

:data:`CHAT_TEMPLATE` renders exactly that; with ``add_generation_prompt=True`` it ends with
``<|assistant|>``, which is what :func:`alignguard.data.format_prompt` produces for a prompt, and
:func:`alignguard.data.encode_example` appends ``</s>`` (the EOS token) after the response.
"""

from __future__ import annotations

from collections.abc import Iterable

BOS, EOS, PAD = "<s>", "</s>", "<pad>"
USER, ASSISTANT = "<|user|>", "<|assistant|>"
SPECIAL_TOKENS = (PAD, BOS, EOS, USER, ASSISTANT)
DEFAULT_VOCAB_SIZE = 1024

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}" + USER + "{{ message['content'] }}"
    "{% elif message['role'] == 'assistant' %}" + ASSISTANT + "{{ message['content'] }}{{ eos_token }}"
    "{% else %}{{ raise_exception('the organism chat template supports user and assistant turns only') }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT + "{% endif %}"
)


def render(prompt: str, response: str | None = None) -> str:
    """The chat text of one exchange (same string the chat template produces)."""
    text = f"{BOS}{USER}{prompt}{ASSISTANT}"
    return text if response is None else f"{text}{response}{EOS}"


def train_tokenizer(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE):
    """Train a byte-level BPE on ``texts`` and wrap it as a ``PreTrainedTokenizerFast``.

    Deterministic for the same texts and vocabulary size. Special tokens get ids 0-4 in the
    order of :data:`SPECIAL_TOKENS`.

    Args:
        texts: training text (rendered chat exchanges).
        vocab_size: total vocabulary size including the 256 byte tokens and special tokens.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must be >= {256 + len(SPECIAL_TOKENS)}, got {vocab_size}")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=BOS, eos_token=EOS, pad_token=PAD,
        extra_special_tokens=[USER, ASSISTANT], padding_side="left", clean_up_tokenization_spaces=False,
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.model_max_length = 512
    return tok
