"""Tokenise chat examples with loss on the answer only, and pack them into full rows.

Packing puts several examples in one row with positions restarting at each example; with
no attention mask, transformers then builds a block-diagonal causal mask, so packed
examples never see each other. Rows carry almost no padding, unlike padded batches.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adaptloop_trainer.snapshot import Example

IGNORE = -100


@dataclass(frozen=True)
class TokenisedExample:
    input_ids: list[int]
    labels: list[int]

    @property
    def answer_tokens(self) -> int:
        return sum(1 for t in self.labels if t != IGNORE)


@dataclass(frozen=True)
class PackedRow:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    real_tokens: int
    """Tokens of examples (not padding) in the row."""


_SENTINEL = "\x00adaptloop\x00"
_TEMPLATE_MARKS: dict[str, tuple[str, str]] = {}
"""Chat template -> (common start of its conversations, its opening of the assistant's turn)."""


def _template_marks(tokenizer: Any) -> tuple[str, str]:
    """What every conversation the chat template renders starts with, and how the assistant's turn opens."""
    template = str(tokenizer.chat_template)
    marks = _TEMPLATE_MARKS.get(template)
    if marks is None:
        def render(role: str, generation: bool) -> str:
            return str(tokenizer.apply_chat_template([{"role": role, "content": _SENTINEL}], tokenize=False,
                                                     add_generation_prompt=generation))

        user, opened = render("user", False), render("user", True)
        try:
            system = render("system", False)
        except Exception:  # a template that refuses a lone system turn
            system = user
        user_head, system_head = user.split(_SENTINEL)[0], system.split(_SENTINEL)[0]
        shared = next((i for i, (a, b) in enumerate(zip(user_head, system_head, strict=False)) if a != b),
                      min(len(user_head), len(system_head)))
        head = user_head[:shared]
        marks = (head, opened[len(user):] if opened.startswith(user) else "")
        _TEMPLATE_MARKS[template] = marks
    return marks


def is_rendered_conversation(tokenizer: Any, prompt: str) -> bool:
    """True for a prompt that already is a conversation rendered by this chat template, opened for the
    assistant: what inference logs for a chat request (`inference.logs` carries the rendered text)."""
    head, opening = _template_marks(tokenizer)
    return bool(head and opening) and prompt.startswith(head) and prompt.endswith(opening)


def prompt_text(tokenizer: Any, prompt: str) -> str:
    """The rendered conversation up to where the assistant starts answering.

    A prompt logged from a chat request is used as it is: rendering it again would train the
    adapter on a conversation nested in a conversation, which the engine never sees.
    """
    if getattr(tokenizer, "chat_template", None):
        if is_rendered_conversation(tokenizer, prompt):
            return prompt
        return str(tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                 tokenize=False, add_generation_prompt=True))
    return f"{prompt}\n"


def tokenise(tokenizer: Any, example: Example, *, seq_len: int) -> TokenisedExample:
    """Prompt tokens are masked out of the loss; the answer ends with the end-of-sequence token."""
    prompt_ids: list[int] = tokenizer(prompt_text(tokenizer, example.prompt), add_special_tokens=False)["input_ids"]
    answer_ids: list[int] = tokenizer(example.answer, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        answer_ids = [*answer_ids, tokenizer.eos_token_id]
    prompt_ids = prompt_ids[-max(1, seq_len // 2):]
    answer_ids = answer_ids[: seq_len - len(prompt_ids)]
    return TokenisedExample(prompt_ids + answer_ids, [IGNORE] * len(prompt_ids) + answer_ids)


def pack(examples: Sequence[TokenisedExample], *, seq_len: int, pad_id: int) -> list[PackedRow]:
    """First-fit decreasing packing into rows of `seq_len` tokens (shorter when all data fits in less).

    Longest examples are placed first, so short ones fill the gaps; only the end of a row is
    padding. Examples must already be at most `seq_len` tokens long (see `tokenise`).
    """
    if not examples:
        return []
    width = min(seq_len, sum(len(ex.input_ids) for ex in examples))
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i].input_ids), i))
    rows: list[list[TokenisedExample]] = []
    space: list[int] = []
    for index in order:
        ex = examples[index]
        size = len(ex.input_ids)
        for i, free in enumerate(space):
            if size <= free:
                rows[i].append(ex)
                space[i] -= size
                break
        else:
            rows.append([ex])
            space.append(width - size)
    packed = []
    for row, free in zip(rows, space, strict=True):
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for ex in row:
            ids += ex.input_ids
            labels += ex.labels
            positions += list(range(len(ex.input_ids)))
        ids += [pad_id] * free
        labels += [IGNORE] * free
        positions += list(range(free))
        packed.append(PackedRow(ids, labels, positions, width - free))
    return packed


def batch_schedule(n_rows: int, *, batch_size: int, steps: int, seed: int) -> list[list[int]]:
    """Row indices of every step, fixed up front by the seed: epochs of seeded permutations."""
    rng = random.Random(seed)
    order: list[int] = []
    needed = steps * batch_size
    while len(order) < needed:
        epoch = list(range(n_rows))
        rng.shuffle(epoch)
        order += epoch
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(steps)]
