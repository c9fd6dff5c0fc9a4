"""Redaction of personal data before anything reaches the example store.

Each rule replaces a match by a placeholder such as `[EMAIL]`, so a training example keeps
its shape without the data. Rules run in a fixed order: custom patterns first (the
operator's specific knowledge wins), then the built-ins from the most to the least specific.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import Counter

REDACTIONS = Counter("adaptloop_ingest_redactions_total", "Spans of text replaced by a placeholder", ["rule"])


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _digit_count_between(low: int, high: int) -> Callable[[str], bool]:
    return lambda match: low <= _digits(match) <= high


@dataclass(frozen=True)
class RedactionRule:
    """A labelled pattern; `accept` can veto a match (e.g. too few digits to be a phone number)."""

    label: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None

    @property
    def placeholder(self) -> str:
        return f"[{self.label.upper()}]"

    def apply(self, text: str) -> str:
        def _replace(match: re.Match[str]) -> str:
            found = match.group(0)
            if self.accept is not None and not self.accept(found):
                return found
            REDACTIONS.labels(self.label).inc()
            return self.placeholder

        return self.pattern.sub(_replace, text)


_NOT_AFTER = r"(?<![\w+@])"
_NOT_BEFORE = r"(?![\w@])"

BUILTIN_RULES: dict[str, tuple[RedactionRule, ...]] = {
    "email": (
        RedactionRule("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ),
    "iban": (
        RedactionRule(
            "iban",
            re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
            _digit_count_between(6, 34),
        ),
    ),
    "phone": (
        # +49 30 1234567, 0049-30-1234567, +1 (555) 123-4567
        RedactionRule(
            "phone",
            re.compile(_NOT_AFTER + r"(?:\+|00)[1-9]\d{0,2}(?:[ .-]?(?:\(\d{1,5}\)|\d{1,5})){1,6}" + _NOT_BEFORE),
            _digit_count_between(8, 15),
        ),
        # (555) 123-4567, 555-123-4567, 555 123 4567
        RedactionRule(
            "phone",
            re.compile(_NOT_AFTER + r"(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}" + _NOT_BEFORE),
        ),
        # national numbers with a trunk zero: 030 12345678, 0151-12345678, 020 7946 0958
        RedactionRule(
            "phone",
            re.compile(_NOT_AFTER + r"0\d{1,4}(?:[ /-]?\d{2,8}){1,3}" + _NOT_BEFORE),
            _digit_count_between(9, 13),
        ),
    ),
    "card": (
        RedactionRule("card", re.compile(_NOT_AFTER + r"[1-9](?:[ -]?\d){12,18}" + _NOT_BEFORE)),
    ),
    "account": (
        # runs of at least 8 digits, alone or in groups of 3+ (12345678, 123-456-789)
        RedactionRule(
            "account",
            re.compile(_NOT_AFTER + r"\d{3,}(?:[ -]\d{3,})*" + _NOT_BEFORE),
            _digit_count_between(8, 34),
        ),
    ),
}
BUILTIN_ORDER = ("email", "iban", "phone", "card", "account")


class Redactor:
    """Applies the configured rules, in order, to every text it is given."""

    def __init__(self, rules: Iterable[RedactionRule]) -> None:
        self.rules = tuple(rules)

    @classmethod
    def from_config(cls, builtin: Iterable[str], custom: Mapping[str, str]) -> Redactor:
        """Build from rule names and `{label: regex}`; an unknown name or a bad regex fails at start."""
        wanted = set(builtin)
        unknown = wanted - set(BUILTIN_RULES)
        if unknown:
            raise ValueError(f"unknown redaction rules {sorted(unknown)}; known: {', '.join(BUILTIN_ORDER)}")
        rules: list[RedactionRule] = []
        for label, regex in custom.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", label):
                raise ValueError(f"redaction label {label!r} must be a word (letters, digits, _)")
            try:
                rules.append(RedactionRule(label, re.compile(regex)))
            except re.error as exc:
                raise ValueError(f"redaction pattern {label!r} is not a valid regex: {exc}") from exc
        for name in BUILTIN_ORDER:
            if name in wanted:
                rules.extend(BUILTIN_RULES[name])
        return cls(rules)

    def redact(self, text: str) -> str:
        for rule in self.rules:
            text = rule.apply(text)
        return text

    def redact_optional(self, text: str | None) -> str | None:
        return None if text is None else self.redact(text)
