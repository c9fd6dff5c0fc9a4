"""How the simulated users rate an answer: closeness to the ideal answer, in [-1, 1].

Shared by the demo's users (live ratings) and offline evaluation (the adaptation benchmark).
"""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"[a-z0-9]+")
POOR_BELOW = 0.5
"""Answers scored below this (token F1 under 0.75) get the ideal answer attached as a correction:
the simulated users correct every answer that is not close to what they wanted."""


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def overlap_f1(answer: str, ideal: str) -> float:
    """Token-overlap F1 between an answer and the ideal one (SQuAD-style), 0..1."""
    got, want = Counter(tokens(answer)), Counter(tokens(ideal))
    common = sum((got & want).values())
    if common == 0:
        return 0.0
    precision = common / sum(got.values())
    recall = common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def score(answer: str, ideal: str) -> float:
    """Map F1 to a rating: 0.5 overlap is neutral, a perfect answer 1, nothing in common -1."""
    return max(-1.0, min(1.0, 2.0 * overlap_f1(answer, ideal) - 1.0))
