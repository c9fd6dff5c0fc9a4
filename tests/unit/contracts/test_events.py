"""Every contract event validates its fields and says clearly what is wrong."""

from __future__ import annotations

import json
import uuid

import pytest
from adaptloop_contracts import (
    TOPICS,
    InferenceFeedback,
    InferenceLog,
    InvalidEvent,
    RetrainRequested,
    TopicNames,
    TrainingEvent,
    adapter_of,
    decode_for_topic,
)
from adaptloop_contracts.base import MAX_EVENT_BYTES, MAX_EXTRA_FIELDS


def _log(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "inference.log",
        "schema_version": 1,
        "occurred_at": "2026-11-23T10:00:00Z",
        "model": "support",
        "request_id": "r1",
        "adapter_version": 3,
        "base_model": "tiny-llama",
        "tenant": None,
        "prompt": "What is the liquidity buffer?",
        "completion": "It is the stock of high quality liquid assets.",
        "prompt_tokens": 7,
        "completion_tokens": 9,
        "latency_ms": 12.5,
        "mean_logprob": -1.2,
    }
    payload.update(overrides)
    return payload


def test_valid_log_round_trips() -> None:
    event = InferenceLog.from_payload(_log())
    again = InferenceLog.from_json_bytes(event.to_json_bytes())
    assert again == event
    assert again.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (None, "empty message"),
    ],
)
def test_undecodable_bytes_are_named(raw: bytes | None, fragment: str) -> None:
    with pytest.raises(InvalidEvent, match=fragment):
        decode_for_topic("inference.logs", raw)


def test_missing_and_mistyped_fields_are_named() -> None:
    payload = _log(prompt_tokens="many")
    del payload["completion"]
    with pytest.raises(InvalidEvent) as info:
        InferenceLog.from_payload(payload)
    assert "completion" in info.value.reason
    assert "prompt_tokens" in info.value.reason


def test_oversized_values_are_refused() -> None:
    with pytest.raises(InvalidEvent, match="prompt"):
        InferenceLog.from_payload(_log(prompt="x" * 70_000))
    with pytest.raises(InvalidEvent, match="exceeds"):
        InferenceLog.from_json_bytes(b" " * (MAX_EVENT_BYTES + 1))


def test_unknown_fields_are_kept_up_to_a_limit() -> None:
    kept = InferenceLog.from_payload(_log(team="risk"))
    assert kept.model_extra == {"team": "risk"}
    extras = {f"x{i}": i for i in range(MAX_EXTRA_FIELDS + 1)}
    with pytest.raises(InvalidEvent, match="unknown fields"):
        InferenceLog.from_payload(_log(**extras))


def test_wrong_event_type_and_schema_version() -> None:
    with pytest.raises(InvalidEvent, match="event_type"):
        InferenceLog.from_payload(_log(event_type="inference.feedback"))
    with pytest.raises(InvalidEvent, match="schema_version"):
        InferenceLog.from_payload(_log(schema_version=2))


def test_naive_timestamp_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="time zone"):
        InferenceLog.from_payload(_log(occurred_at="2026-11-23T10:00:00"))


def test_feedback_score_range() -> None:
    base = {"event_type": "inference.feedback", "model": "support", "inference_event_id": str(uuid.uuid4())}
    assert InferenceFeedback.from_payload({**base, "score": -1}).score == -1
    with pytest.raises(InvalidEvent, match="score"):
        InferenceFeedback.from_payload({**base, "score": 1.5})


def test_training_event_type_follows_state() -> None:
    event = TrainingEvent(model="support", job_id=uuid.uuid4(), request_id=uuid.uuid4(), state="running")
    assert event.event_type == "training.running"


def test_retrain_reason_is_closed() -> None:
    with pytest.raises(InvalidEvent, match="reason"):
        RetrainRequested.from_payload({"event_type": "retrain.requested", "model": "support",
                                       "reason": "whim", "requested_by": "me"})


def test_topic_names_and_prefix() -> None:
    names = TopicNames("t1.")
    assert names("inference.logs") == "t1.inference.logs"
    assert names.dlq("inference.logs") == "t1.inference.logs.dlq"
    assert names.base_of("t1.drift.detected") == "drift.detected"
    everything = names.all_with_partitions()
    assert len(everything) == 2 * len(TOPICS)
    with pytest.raises(KeyError):
        names("no.such.topic")


def test_adapter_of_client_names() -> None:
    assert adapter_of("support") == "support"
    assert adapter_of("support:canary") == "support"
    assert adapter_of("support@3") == "support"


def test_json_schemas_exported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from adaptloop_contracts.schemas import export

    paths = export(tmp_path)
    assert {p.name for p in paths} == {f"{t}.schema.json" for t in TOPICS}
    schema = json.loads((tmp_path / "inference.logs.schema.json").read_text())
    assert "prompt" in schema["properties"]


def test_published_schemas_match_the_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """docs/schemas is what users' producers read: it must be regenerated when a contract changes."""
    from pathlib import Path

    from adaptloop_contracts.schemas import export

    docs = Path(__file__).resolve().parents[3] / "docs" / "schemas"
    for path in export(tmp_path):
        published = docs / path.name
        assert published.exists(), f"{published} missing: run `make schemas`"
        assert published.read_text() == path.read_text(), f"{published} is stale: run `make schemas`"


def test_a_correction_can_be_tool_calls() -> None:
    from adaptloop_contracts import tool_calls_text

    calls = [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "brakes"}'}}]
    feedback = InferenceFeedback(model="support", inference_event_id=uuid.uuid4(), score=-1.0,
                                 correction_tool_calls=calls)
    assert feedback.correction == tool_calls_text(calls) == '[{"name":"lookup","parameters":{"q":"brakes"}}]'
    assert InferenceFeedback.from_json_bytes(feedback.to_json_bytes()).correction == feedback.correction
    with pytest.raises(InvalidEvent, match="correction_tool_calls"):
        InferenceFeedback.from_payload({"model": "support", "inference_event_id": str(uuid.uuid4()), "score": 0,
                                        "correction_tool_calls": [{"function": {"arguments": "{}"}}]})
    with pytest.raises(InvalidEvent, match="disagree"):
        InferenceFeedback.from_payload({"model": "support", "inference_event_id": str(uuid.uuid4()), "score": 0,
                                        "correction": "other", "correction_tool_calls": calls})
