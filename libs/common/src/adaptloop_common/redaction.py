"""Detection and replacement of personal data and secrets in free text.

Each rule finds spans of one kind (`email`, `iban`, `phone`, `card`, `secret`, `account` or an
operator's own label) and hands them to a replacement chosen by the privacy mode: a typed
placeholder (`[EMAIL]`) or a keyed digest (`[EMAIL:kbmaofhd...]`, equal values give equal
tokens). Rules run in a fixed order: custom patterns first (the operator's specific knowledge
wins), then the built-ins from the most to the least specific. Replacements contain no digits
and no `@`, so redacting twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import Counter

REDACTIONS = Counter("adaptloop_redactions_total", "Spans of personal data or secrets replaced", ["rule"])

Replacement = Callable[[str, str], str]
"""`(label, matched text) -> what to write instead`."""


def typed_placeholder(label: str, _found: str) -> str:
    return f"[{label.upper()}]"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _digit_count_between(low: int, high: int) -> Callable[[str], bool]:
    return lambda match: low <= len(_digits(match)) <= high


def luhn_valid(text: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    digits = [int(d) for d in _digits(text)]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """ISO 13616 mod-97 check: country and check digits moved to the end, letters as 10..35."""
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _looks_like_a_key(token: str) -> bool:
    """A long token mixing letters and digits (an API key, a password hash), not a UUID."""
    if _UUID.fullmatch(token):
        return False
    return sum(ch.isdigit() for ch in token) >= 2 and sum(ch.isalpha() for ch in token) >= 2


@dataclass(frozen=True)
class RedactionRule:
    """A labelled pattern; `accept` can veto a match (a failed checksum); `group` limits the replaced span."""

    label: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None
    group: int = 0

    @property
    def placeholder(self) -> str:
        return typed_placeholder(self.label, "")

    def apply(self, text: str, replace: Replacement = typed_placeholder) -> str:
        def _replace(match: re.Match[str]) -> str:
            found = match.group(self.group)
            if self.accept is not None and not self.accept(found):
                return match.group(0)
            REDACTIONS.labels(self.label).inc()
            whole, start = match.group(0), match.start(self.group) - match.start(0)
            return whole[:start] + replace(self.label, found) + whole[start + len(found):]

        return self.pattern.sub(_replace, text)


_NOT_AFTER = r"(?<![\w+@])"
_NOT_BEFORE = r"(?![\w@])"
_KEY_CHARS = r"[A-Za-z0-9_\-]"

BUILTIN_RULES: dict[str, tuple[RedactionRule, ...]] = {
    "email": (
        RedactionRule("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ),
    "secret": (
        # well-known key shapes: OpenAI/Stripe, GitHub, Slack, AWS, Google, JWTs
        RedactionRule("secret", re.compile(
            r"(?<![\w-])(?:(?:sk|pk|rk)[-_](?:live[-_]|test[-_]|proj[-_])?" + _KEY_CHARS + r"{16,}"
            r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}"
            r"|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}"
            r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})(?![\w-])"
        )),
        # the value after `password=`, `api_key: `, `token `...
        RedactionRule("secret", re.compile(
            r"(?i)\b(?:api[_-]?key|secret|token|password|passwd|pwd)\b[\"']?\s*[:=]\s*[\"']?([^\s\"',;]{8,})"
        ), group=1),
        # any other long token mixing letters and digits
        RedactionRule("secret", re.compile(r"(?<![\w-])" + _KEY_CHARS + r"{32,}(?![\w-])"), _looks_like_a_key),
    ),
    "iban": (
        RedactionRule(
            "iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"), iban_valid,
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
        RedactionRule("card", re.compile(_NOT_AFTER + r"[1-9](?:[ -]?\d){12,18}" + _NOT_BEFORE), luhn_valid),
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
BUILTIN_ORDER = ("email", "secret", "iban", "card", "phone", "account")


def compile_rules(builtin: Iterable[str], custom: Mapping[str, str]) -> tuple[RedactionRule, ...]:
    """Rules from names and `{label: regex}`; an unknown name or a bad regex is a `ValueError` at start."""
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
    return tuple(rules)


class Redactor:
    """Applies the rules, in order, to every text it is given; `replace` decides what a match becomes."""

    def __init__(self, rules: Iterable[RedactionRule], replace: Replacement = typed_placeholder) -> None:
        self.rules = tuple(rules)
        self._replace = replace

    @classmethod
    def from_config(cls, builtin: Iterable[str], custom: Mapping[str, str]) -> Redactor:
        return cls(compile_rules(builtin, custom))

    def redact(self, text: str) -> str:
        for rule in self.rules:
            text = rule.apply(text, self._replace)
        return text

    def redact_optional(self, text: str | None) -> str | None:
        return None if text is None else self.redact(text)
