"""Example keys, targets and drafts: the rules the store applies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from adaptloop_common.redaction import Redactor
from adaptloop_contracts import InferenceFeedback, InferenceLog
from adaptloop_ingest.examples import (
    CuratedExample,
    StoredExample,
    content_key,
    draft_from_curated,
    draft_from_log,
    normalise,
    rating_from_feedback,
    target_of,
)
from pydantic import ValidationError

REDACT_EMAIL = Redactor.from_config(["email"], {})


def test_normalise_folds_case_width_and_whitespace() -> None:
    assert normalise("  \uff28ello\tWORLD \n again ")  # fullwidth H == "hello world again"


def test_content_key_ignores_formatting_but_not_the_split_between_prompt_and_answer() -> None:
    assert content_key("How?", "Like  THIS.") == content_key(" how? ", "like this.")
    assert content_key("ab", "c") != content_key("a", "bc")


@pytest.mark.parametrize(("completion", "correction", "score", "target"), [
    ("said", "should", -1.0, "should"),
    ("said", "should", None, "should"),
    ("said", None, 0.5, "said"),
    ("said", None, 0.0, None),
    ("said", None, -0.5, None),
    ("said", None, None, None),
    (None, None, 1.0, None),
])
def test_target_rule(completion: str | None, correction: str | None, score: float | None, target: str | None) -> None:
    assert target_of(completion, correction, score) == target


def _log(**fields: object) -> InferenceLog:
    payload: dict[str, object] = {
        "model": "support:canary", "request_id": "r1", "adapter_version": 3, "base_model": "tiny-llama",
        "prompt": "I am a@b.io", "completion": "Hi a@b.io", "prompt_tokens": 1, "completion_tokens": 1,
        "latency_ms": 1.0,
    }
    payload.update(fields)
    return InferenceLog.model_validate(payload)


def test_a_log_becomes_a_redacted_draft_under_its_adapter() -> None:
    log = _log()
    draft = draft_from_log(log, REDACT_EMAIL)

    assert (draft.adapter, draft.adapter_version, draft.source) == ("support", 3, "log")
    assert draft.example_id == draft.event_id == log.event_id
    assert (draft.prompt, draft.completion, draft.correction) == ("I am [EMAIL]", "Hi [EMAIL]", None)
    assert draft.content_key == content_key("I am [EMAIL]", "Hi [EMAIL]")


def test_a_curated_answer_is_stored_as_the_correction() -> None:
    draft = draft_from_curated(CuratedExample(adapter="legal", prompt="Q to a@b.io", answer="A"), REDACT_EMAIL)

    assert (draft.source, draft.completion, draft.correction, draft.event_id) == ("import", None, "A", None)
    assert draft.prompt == "Q to [EMAIL]"


def test_curated_items_are_validated() -> None:
    with pytest.raises(ValidationError):
        CuratedExample.model_validate({"adapter": "Not Valid", "prompt": "q", "answer": "a"})
    with pytest.raises(ValidationError):
        CuratedExample.model_validate({"adapter": "legal", "prompt": "q", "answer": "a", "extra": 1})
    with pytest.raises(ValidationError):
        CuratedExample.model_validate({"adapter": "legal", "prompt": "q", "answer": "a",
                                       "occurred_at": "2026-01-01T00:00:00"})


def test_a_rating_carries_its_redacted_correction() -> None:
    feedback = InferenceFeedback(model="support", inference_event_id=uuid.uuid4(), score=-1, correction="mail x@y.org")
    rating = rating_from_feedback(feedback, REDACT_EMAIL)

    assert rating.correction == "mail [EMAIL]"
    assert rating.inference_event_id == feedback.inference_event_id


def test_export_line_shape() -> None:
    example = StoredExample(
        example_id=uuid.uuid4(), adapter="support", adapter_version=2, source="log", prompt="p", completion="c",
        correction=None, score=1.0, event_id=None, occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    line = example.as_json_dict()

    assert set(line) == {"example_id", "adapter", "adapter_version", "prompt", "completion", "correction", "score",
                         "target", "event_id", "occurred_at", "source"}
    assert line["target"] == "c"
    assert line["occurred_at"] == "2026-01-02T03:04:05Z"


def test_nul_characters_are_dropped_before_storage() -> None:
    draft = draft_from_log(_log(prompt="a\x00b", completion="c\x00"), REDACT_EMAIL)
    assert (draft.prompt, draft.completion) == ("ab", "c")
