"""Byte-level BPE tokenizer trained on the scenario corpus, with a chat template.

Needs the ``model`` extra; heavy imports happen inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

    from adaptloop_scenarios.corpus import ScenarioPair

UNK, BOS, EOS, PAD = "<unk>", "<s>", "</s>", "<pad>"
SPECIAL_TOKENS: tuple[str, ...] = (UNK, BOS, EOS, PAD)

# Each turn is "<|role|>\n{content}</s>\n"; the conversation starts with <s>.
CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{{- '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|assistant|>\n' -}}{%- endif -%}"
)


def render_chat(messages: Sequence[dict[str, str]], *, add_generation_prompt: bool) -> str:
    """The chat template in plain Python, used where no tokenizer is loaded yet."""
    turns = "".join(f"<|{m['role']}|>\n{m['content']}{EOS}\n" for m in messages)
    return BOS + turns + ("<|assistant|>\n" if add_generation_prompt else "")


def pair_messages(pair: ScenarioPair) -> list[dict[str, str]]:
    """A scenario pair as one user turn and one assistant turn."""
    return [
        {"role": "user", "content": pair.prompt},
        {"role": "assistant", "content": pair.answer},
    ]


def train_tokenizer(texts: Iterable[str], *, vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on ``texts`` and wrap it with the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        chat_template=CHAT_TEMPLATE,
        model_max_length=256,
        clean_up_tokenization_spaces=False,
    )
