"""Privacy modes: per deployment and per adapter, on logs, feedback and dataset rows."""

from __future__ import annotations

import pytest
from adaptloop_common.privacy import PrivacyMode, PrivacyPolicy, PrivacySettings
from adaptloop_contracts import InferenceFeedback, InferenceLog

RAW = "I am jane.doe@example.com, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00"
KEY = "k" * 32


def _log(model: str, text: str = RAW) -> InferenceLog:
    return InferenceLog(model=model, request_id="r1", base_model="tiny", prompt=text, completion=text,
                        prompt_tokens=1, completion_tokens=1, latency_ms=1.0, metadata={"note": text, "n": 3})


def test_default_redacts_with_typed_placeholders_everywhere_in_a_log() -> None:
    scrubbed = PrivacyPolicy(PrivacySettings()).scrub_log(_log("support"))

    expected = "I am [EMAIL], card [CARD], IBAN [IBAN]"
    assert (scrubbed.prompt, scrubbed.completion, scrubbed.metadata) == (expected, expected, {"note": expected, "n": 3})


def test_hash_mode_keeps_equal_values_joinable_and_depends_on_the_key() -> None:
    one = PrivacyPolicy(PrivacySettings(mode=PrivacyMode.HASH, hash_key=KEY)).redactor("support")
    other = PrivacyPolicy(PrivacySettings(mode=PrivacyMode.HASH, hash_key="q" * 32)).redactor("support")

    first, again = one.redact("mail Jane.Doe@example.com"), one.redact("write to jane.doe@example.com")
    token = first.split()[-1]
    assert token.startswith("[EMAIL:") and token in again and "jane" not in first.lower()
    assert other.redact("mail Jane.Doe@example.com") != first
    assert one.redact(first) == first


def test_per_adapter_modes_override_the_deployment_mode() -> None:
    policy = PrivacyPolicy(PrivacySettings(mode=PrivacyMode.REDACT, adapter_modes={
        "legal": PrivacyMode.DROP, "lab": PrivacyMode.OFF, "crm": PrivacyMode.HASH}, hash_key=KEY))

    dropped = policy.scrub_log(_log("legal:canary"))
    assert (dropped.prompt, dropped.completion) == ("", "")
    assert dropped.metadata["note"] == "I am [EMAIL], card [CARD], IBAN [IBAN]"
    assert policy.scrub_log(_log("lab")).prompt == RAW
    assert "[EMAIL:" in policy.scrub_log(_log("crm@2")).prompt
    assert policy.scrub_log(_log("support")).prompt == "I am [EMAIL], card [CARD], IBAN [IBAN]"


def test_feedback_corrections_and_dataset_rows() -> None:
    policy = PrivacyPolicy(PrivacySettings(adapter_modes={"legal": PrivacyMode.DROP}))
    feedback = InferenceFeedback(model="support", inference_event_id=_log("x").event_id, score=1.0, correction=RAW)

    assert policy.scrub_feedback(feedback).correction == "I am [EMAIL], card [CARD], IBAN [IBAN]"
    assert policy.scrub_feedback(feedback.model_copy(update={"model": "legal"})).correction is None
    row = policy.scrub_row("support", {"prompt": RAW, "target": "ok", "score": 1.0}, ("prompt", "target"))
    assert row == {"prompt": "I am [EMAIL], card [CARD], IBAN [IBAN]", "target": "ok", "score": 1.0}


def test_hash_mode_without_a_key_fails_at_start() -> None:
    with pytest.raises(ValueError, match="HASH_KEY"):
        PrivacySettings(adapter_modes={"crm": PrivacyMode.HASH})
