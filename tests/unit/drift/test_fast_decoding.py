"""The hot path's fast decoding accepts exactly what the contract accepts, with the same values and reasons."""

from __future__ import annotations

import json
from typing import Any

import pytest
from adaptloop_contracts import InferenceFeedback, InferenceLog, InvalidEvent
from adaptloop_drift.events import LogEvent, RatingEvent, decode_log, decode_rating
from adaptloop_drift.synthetic import make_feedback, make_log

LOG = json.loads(make_log("support", 3, seed=2, prompt="How do I reset the router?").model_dump_json())
RATING = json.loads(make_feedback("support", 3, 1, seed=2, version=2).model_dump_json())


def _fields(event: Any, names: list[str]) -> dict[str, Any]:
    return {name: getattr(event, name) for name in names}


def test_valid_events_take_the_fast_path_with_the_contracts_values() -> None:
    raw = json.dumps(LOG).encode()
    fast = decode_log(raw)
    assert isinstance(fast, LogEvent)
    assert _fields(fast, list(InferenceLog.model_fields)) == _fields(InferenceLog.from_json_bytes(raw),
                                                                      list(InferenceLog.model_fields))
    raw = json.dumps(RATING).encode()
    rating = decode_rating(raw)
    assert isinstance(rating, RatingEvent)
    assert _fields(rating, list(InferenceFeedback.model_fields)) == _fields(InferenceFeedback.from_json_bytes(raw),
                                                                            list(InferenceFeedback.model_fields))


LOG_CASES: list[dict[str, Any]] = [
    {"occurred_at": "2026-01-01T02:00:00+02:00"},  # converted to UTC by the contract
    {"vendor_field": 1},  # unknown fields are kept by the contract
    {**{f"x{i}": i for i in range(40)}},  # too many unknown fields
    {"prompt_tokens": "7"},  # lax numbers
    {"model": "support\n"},
    {"model": "Support Desk"},
    {"adapter_version": 0},
    {"mean_logprob": 0.5},
    {"latency_ms": -1},
    {"occurred_at": "2026-01-01T00:00:00"},  # no time zone
    {"schema_version": 2},
    {"event_type": "inference.feedback"},
    {"metadata": {"blob": "x" * 20_000}},
    {"metadata": {"route": "a"}},
    {"prompt": "x" * 70_000},
    {"request_id": None},
]


@pytest.mark.parametrize("change", LOG_CASES, ids=lambda c: ",".join(c)[:40])
def test_a_log_the_fast_path_refuses_is_judged_by_the_contract(change: dict[str, Any]) -> None:
    raw = json.dumps({**LOG, **change}).encode()
    try:
        expected: InferenceLog | str = InferenceLog.from_json_bytes(raw)
    except InvalidEvent as exc:
        expected = exc.reason
    if isinstance(expected, str):
        with pytest.raises(InvalidEvent) as caught:
            decode_log(raw)
        assert caught.value.reason == expected
    else:
        got = decode_log(raw)
        assert _fields(got, list(InferenceLog.model_fields)) == _fields(expected, list(InferenceLog.model_fields))
        assert got.occurred_at.utcoffset().total_seconds() == 0


RATING_CASES: list[dict[str, Any]] = [
    {"correction_tool_calls": [{"function": {"name": "lookup", "arguments": "{}"}}]},
    {"score": 1.5},
    {"score": "0.5"},
    {"inference_event_id": "not-a-uuid"},
    {"correction": "Hold the reset button for ten seconds."},
    {"metadata": {"adapter_version": 3}},
]


@pytest.mark.parametrize("change", RATING_CASES, ids=lambda c: ",".join(c)[:40])
def test_a_rating_the_fast_path_refuses_is_judged_by_the_contract(change: dict[str, Any]) -> None:
    raw = json.dumps({**RATING, **change}).encode()
    try:
        expected: InferenceFeedback | str = InferenceFeedback.from_json_bytes(raw)
    except InvalidEvent as exc:
        expected = exc.reason
    if isinstance(expected, str):
        with pytest.raises(InvalidEvent) as caught:
            decode_rating(raw)
        assert caught.value.reason == expected
    else:
        got = decode_rating(raw)
        assert _fields(got, list(InferenceFeedback.model_fields)) == _fields(expected,
                                                                             list(InferenceFeedback.model_fields))


@pytest.mark.parametrize("raw", [None, b"", b"not json", b"[1, 2]", b"x" * 1_048_577])
def test_bytes_that_are_no_event_give_the_contracts_reason(raw: bytes | None) -> None:
    with pytest.raises(InvalidEvent) as fast:
        decode_log(raw)
    with pytest.raises(InvalidEvent) as contract:
        InferenceLog.from_json_bytes(raw)
    assert fast.value.reason == contract.value.reason
