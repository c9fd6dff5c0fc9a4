"""Redaction rules: what each built-in replaces, and what it leaves alone."""

from __future__ import annotations

import pytest
from adaptloop_common.redaction import BUILTIN_ORDER, Redactor
from adaptloop_scenarios.corpus import mixed_corpus

ALL = Redactor.from_config(BUILTIN_ORDER, {})


@pytest.mark.parametrize(("text", "expected"), [
    ("mail jane.doe+work@mail.example.co.uk now", "mail [EMAIL] now"),
    ("call +49 30 1234567 today", "call [PHONE] today"),
    ("call 0049-30-1234567", "call [PHONE]"),
    ("call +1 (555) 123-4567.", "call [PHONE]."),
    ("call (555) 123-4567 or 555-987-6543", "call [PHONE] or [PHONE]"),
    ("ring 030 12345678 or 0151-12345678", "ring [PHONE] or [PHONE]"),
    ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please"),
    ("to GB82WEST12345698765432.", "to [IBAN]."),
    ("card 4111 1111 1111 1111 expired", "card [CARD] expired"),
    ("card 4111-1111-1111-1111", "card [CARD]"),
    ("account 12345678 closed", "account [ACCOUNT] closed"),
    ("account 123-456-789", "account [ACCOUNT]"),
    ("key sk-proj-abcDEF1234567890abcdef ok", "key [SECRET] ok"),
    ("aws AKIAIOSFODNN7EXAMPLE", "aws [SECRET]"),
    ("tok ghp_abcdefghijklmnopqrstuvwxyz0123456789", "tok [SECRET]"),
    ("password=hunter2hunter2 and api_key: 'Zx81kq0plm'", "password=[SECRET] and api_key: '[SECRET]'"),
    ("digest 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "digest [SECRET]"),
])
def test_builtin_rules_replace_personal_data(text: str, expected: str) -> None:
    assert ALL.redact(text) == expected


@pytest.mark.parametrize("text", [
    "We shipped 1500 units on 2026-11-22 at 10:30.",
    "Tighten to 218 newton metres; 29500 validation cycles passed.",
    "Version 3.12.1 fixed issue #4521 in 2024.",
    "Exposure of 260 million is 45 percent of the limit.",
    "Order 1234567 is on its way.",
    "Request 123e4567-e89b-12d3-a456-4266 failed.",
])
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert ALL.redact(text) == text


def test_the_scenario_corpus_passes_unchanged() -> None:
    for pair in mixed_corpus(20, seed=3):
        assert ALL.redact(pair.prompt) == pair.prompt
        assert ALL.redact(pair.answer) == pair.answer


def test_custom_patterns_run_first_and_only_chosen_builtins_apply() -> None:
    redactor = Redactor.from_config(["email"], {"ticket": r"TCK-\d+", "employee": r"E\d{6}"})

    redacted = redactor.redact("TCK-42 from E123456 <a@b.io>, +49 30 1234567")

    assert redacted == "[TICKET] from [EMPLOYEE] <[EMAIL]>, +49 30 1234567"


def test_unknown_rule_or_bad_pattern_fails_at_start() -> None:
    with pytest.raises(ValueError, match="unknown redaction rules"):
        Redactor.from_config(["email", "passport"], {})
    with pytest.raises(ValueError, match="not a valid regex"):
        Redactor.from_config([], {"broken": "("})
    with pytest.raises(ValueError, match="must be a word"):
        Redactor.from_config([], {"two words": "x"})


def test_optional_text() -> None:
    assert ALL.redact_optional(None) is None
    assert ALL.redact_optional("a@b.io") == "[EMAIL]"


def test_checksums_decide_between_a_card_an_iban_and_other_numbers() -> None:
    assert ALL.redact("card 4111 1111 1111 1112") == "card [ACCOUNT]"  # not Luhn-valid: still a long number
    assert ALL.redact("to GB82WEST12345698765431.") == "to GB82WEST12345698765431."  # mod-97 fails
    assert ALL.redact("card 5500 0000 0000 0004") == "card [CARD]"
