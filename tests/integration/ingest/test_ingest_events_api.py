"""`POST /v1/logs` and `POST /v1/feedback` against the real broker."""

from __future__ import annotations

import json
import uuid
from typing import Any

from adaptloop_contracts import TopicNames
from ingest_support import READER, WRITER, RunningIngest, log_payload, read_topic


def test_batch_accepts_valid_items_and_names_each_invalid_one(ingest_api: RunningIngest, topics: TopicNames) -> None:
    batch: list[Any] = [
        log_payload("support"),
        log_payload("support", prompt_tokens=-1),  # invalid: negative count
        "not an object",
        log_payload("billing:canary"),
        {"model": "support"},  # invalid: most fields missing
        log_payload("support@3", event_id=str(uuid.uuid4()), occurred_at="2026-01-02T03:04:05Z"),
    ]
    response = ingest_api.client.post("/v1/logs", json=batch, headers=WRITER)

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 3
    assert [r["index"] for r in body["rejected"]] == [1, 2, 4]
    assert "prompt_tokens" in body["rejected"][0]["reason"]
    assert "object" in body["rejected"][1]["reason"]
    assert "request_id" in body["rejected"][2]["reason"]
    assert body["event_ids"][2] == batch[5]["event_id"]

    messages = read_topic(ingest_api.settings.kafka_bootstrap, topics("inference.logs"), expect=3)
    by_id = {json.loads(m.value())["event_id"]: m for m in messages}
    assert sorted(by_id) == sorted(body["event_ids"])
    assert sorted(m.key() for m in messages) == [b"billing", b"support", b"support"]
    filled = json.loads(by_id[body["event_ids"][0]].value())
    assert filled["occurred_at"] and filled["event_type"] == "inference.log" and filled["schema_version"] == 1


def test_single_feedback_object_is_accepted(ingest_api: RunningIngest, topics: TopicNames) -> None:
    feedback = {"model": "support", "inference_event_id": str(uuid.uuid4()), "score": -1, "correction": "Do X."}
    response = ingest_api.client.post("/v1/feedback", json=feedback, headers=WRITER)

    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1
    [message] = read_topic(ingest_api.settings.kafka_bootstrap, topics("inference.feedback"), expect=1)
    assert json.loads(message.value())["event_id"] == response.json()["event_ids"][0]


def test_all_invalid_is_422_with_a_reason_per_item(ingest_api: RunningIngest) -> None:
    response = ingest_api.client.post(
        "/v1/feedback", json=[{"model": "support", "score": 3}, {"score": 1}], headers=WRITER
    )

    assert response.status_code == 422
    rejected = response.json()["rejected"]
    assert [r["index"] for r in rejected] == [0, 1]
    assert "score" in rejected[0]["reason"] and "inference_event_id" in rejected[0]["reason"]
    assert "model" in rejected[1]["reason"]


def test_malformed_json_is_400(ingest_api: RunningIngest) -> None:
    response = ingest_api.client.post(
        "/v1/logs", content=b"{not json", headers={**WRITER, "content-type": "application/json"}
    )
    assert response.status_code == 400


def test_body_over_the_limit_is_413(ingest_factory) -> None:  # type: ignore[no-untyped-def]
    service = ingest_factory(consumer_enabled=False, max_body_bytes=2_000, max_batch_items=3)
    too_big = service.client.post("/v1/logs", json=[log_payload(prompt="x" * 3_000)], headers=WRITER)
    too_many = service.client.post("/v1/logs", json=[log_payload() for _ in range(4)], headers=WRITER)

    assert too_big.status_code == 413
    assert too_many.status_code == 413


def test_tokens_and_roles(ingest_api: RunningIngest) -> None:
    item = log_payload()
    assert ingest_api.client.post("/v1/logs", json=item).status_code == 401
    assert ingest_api.client.post("/v1/logs", json=item, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert ingest_api.client.post("/v1/logs", json=item, headers=READER).status_code == 403
    assert ingest_api.client.post("/v1/examples", json=[], headers=READER).status_code == 403
    assert ingest_api.client.get("/v1/examples", params={"adapter": "support"}).status_code == 401
    assert ingest_api.client.get("/v1/examples", params={"adapter": "support"}, headers=READER).status_code == 200
