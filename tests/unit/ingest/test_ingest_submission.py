"""Parsing and per-item validation of submitted batches."""

from __future__ import annotations

import json
import uuid

import pytest
from adaptloop_contracts import InferenceFeedback, InferenceLog
from adaptloop_ingest.errors import BatchTooLarge, MalformedBody
from adaptloop_ingest.submission import parse_items, triage_events

FEEDBACK = {"model": "support", "inference_event_id": str(uuid.uuid4()), "score": 1}


def test_one_object_or_an_array() -> None:
    assert parse_items(b'{"a": 1}', max_items=5) == [{"a": 1}]
    assert parse_items(b'[{"a": 1}, 2]', max_items=5) == [{"a": 1}, 2]


@pytest.mark.parametrize("body", [b"{nope", b'"text"', b"3", b"[]", b"\xff\xfe"])
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_items(body, max_items=5)


def test_too_many_items() -> None:
    with pytest.raises(BatchTooLarge):
        parse_items(json.dumps([{}] * 6).encode(), max_items=5)


def test_missing_event_id_and_occurred_at_are_filled() -> None:
    [(index, event)] = triage_events([FEEDBACK], InferenceFeedback).accepted

    assert index == 0
    assert isinstance(event.event_id, uuid.UUID)
    assert event.occurred_at.tzinfo is not None


def test_each_invalid_item_is_named_with_its_reason() -> None:
    given = str(uuid.uuid4())
    items = [
        {**FEEDBACK, "event_id": given},
        {**FEEDBACK, "score": 2},
        [],
        {**FEEDBACK, "event_id": given},
        {**FEEDBACK, "event_type": "inference.log"},
        {**FEEDBACK, "occurred_at": "2026-01-01T00:00:00"},
    ]
    triage = triage_events(items, InferenceFeedback)

    assert [i for i, _ in triage.accepted] == [0]
    assert [r.index for r in triage.rejected] == [1, 2, 3, 4, 5]
    reasons = [r.reason for r in triage.rejected]
    assert "score" in reasons[0]
    assert "list" in reasons[1]
    assert "earlier in this request" in reasons[2]
    assert "event_type" in reasons[3]
    assert "time zone" in reasons[4]


def test_logs_are_checked_against_their_own_contract() -> None:
    triage = triage_events([FEEDBACK], InferenceLog)
    assert not triage.accepted and "prompt" in triage.rejected[0].reason
