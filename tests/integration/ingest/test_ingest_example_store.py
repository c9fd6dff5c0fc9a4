"""The example store: joins, de-duplication, redaction, import and export through the real broker and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from adaptloop_common.privacy import PrivacySettings
from adaptloop_contracts import InferenceFeedback, InferenceLog, TopicNames
from adaptloop_kafka import EventProducer
from ingest_support import WRITER, RunningIngest, log_payload, read_topic, wait_for


def rows(pg_dsn: str, schema: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return conn.execute(query, params).fetchall()


def seen_count(pg_dsn: str, schema: str) -> int:
    return int(rows(pg_dsn, schema, "SELECT count(*) FROM seen_events")[0][0])


def make_log(adapter: str = "support", **fields: Any) -> InferenceLog:
    return InferenceLog.model_validate(log_payload(adapter, **fields))


def test_rating_posted_after_its_log_makes_the_completion_the_target(ingest: RunningIngest) -> None:
    logged = ingest.client.post("/v1/logs", json=log_payload("support:canary", adapter_version=2), headers=WRITER)
    [log_id] = logged.json()["event_ids"]
    wait_for(lambda: ingest.export("support"), what="the log in the export")
    rated = ingest.client.post(
        "/v1/feedback", json={"model": "support", "inference_event_id": log_id, "score": 0.8}, headers=WRITER
    )
    assert rated.status_code == 202

    [example] = wait_for(lambda: [e for e in ingest.export("support") if e["score"] is not None], what="the rating")
    assert example["event_id"] == log_id
    assert example["adapter_version"] == 2
    assert example["score"] == 0.8
    assert example["correction"] is None
    assert example["target"] == example["completion"]


def test_rating_that_arrives_before_its_log_is_kept_and_attached(
    ingest: RunningIngest, producer: EventProducer, pg_dsn: str, pg_schema: str
) -> None:
    log = make_log()
    producer.publish_sync("inference.feedback", InferenceFeedback(
        model="support", inference_event_id=log.event_id, score=-1.0, correction="Use the reset link in settings.",
    ))
    wait_for(lambda: rows(pg_dsn, pg_schema, "SELECT 1 FROM pending_feedback WHERE inference_event_id = %s",
                          log.event_id), what="the rating waiting for its log")
    assert ingest.export("support") == []

    producer.publish_sync("inference.logs", log)

    [example] = wait_for(lambda: ingest.export("support"), what="the joined example")
    assert example["score"] == -1.0
    assert example["target"] == example["correction"] == "Use the reset link in settings."
    assert rows(pg_dsn, pg_schema, "SELECT count(*) FROM pending_feedback") == [(0,)]


def test_duplicates_by_event_id_and_by_normalised_content_are_dropped(
    ingest: RunningIngest, producer: EventProducer, pg_dsn: str, pg_schema: str
) -> None:
    first = make_log(prompt="How do I export my invoices?", completion="Open Billing, then Export.")
    same_text = make_log(prompt="  how do I   EXPORT my invoices? ", completion="open billing,  then export.")
    other_adapter = make_log("billing", prompt=first.prompt, completion=first.completion)
    for event in (first, first, same_text, other_adapter):
        producer.publish_sync("inference.logs", event)
    producer.publish_sync("inference.feedback", InferenceFeedback(
        model="support", inference_event_id=same_text.event_id, score=1.0,
    ))

    wait_for(lambda: seen_count(pg_dsn, pg_schema) == 4, what="every distinct event recorded")
    [example] = wait_for(lambda: [e for e in ingest.export("support") if e["score"] is not None], what="the rating")
    assert example["event_id"] == str(first.event_id)
    assert example["target"] == "Open Billing, then Export."
    assert len(ingest.export("billing")) == 1


def test_personal_data_is_redacted_before_it_is_stored(
    ingest_factory, producer: EventProducer, pg_dsn: str, pg_schema: str  # type: ignore[no-untyped-def]
) -> None:
    ingest = ingest_factory(privacy=PrivacySettings(patterns={"customer": r"CUST-\d+"}))
    secrets = ["jane.doe@example.com", "+49 30 1234567", "DE89 3704 0044 0532 0130 00", "4111 1111 1111 1111",
               "CUST-778899"]
    log = make_log(
        prompt="I am jane.doe@example.com, call +49 30 1234567 about CUST-778899.",
        completion="We refunded DE89 3704 0044 0532 0130 00.",
    )
    producer.publish_sync("inference.feedback", InferenceFeedback(
        model="support", inference_event_id=log.event_id, score=-0.5,
        correction="Never repeat card 4111 1111 1111 1111; write to help@example.org.",
    ))
    wait_for(lambda: seen_count(pg_dsn, pg_schema) == 1, what="the pending rating")
    producer.publish_sync("inference.logs", log)

    [example] = wait_for(lambda: [e for e in ingest.export("support") if e["correction"]], what="the example")
    assert example["prompt"] == "I am [EMAIL], call [PHONE] about [CUSTOMER]."
    assert example["completion"] == "We refunded [IBAN]."
    assert example["correction"] == "Never repeat card [CARD]; write to [EMAIL]."
    stored = rows(pg_dsn, pg_schema, "SELECT prompt || coalesce(completion, '') || coalesce(correction, '') "
                                     "FROM examples")
    for secret in secrets:
        assert all(secret not in text for (text,) in stored)


def test_curated_import_and_export_by_time_range(ingest: RunningIngest) -> None:
    base = datetime(2026, 3, 1, tzinfo=UTC)
    items = [
        {"adapter": "legal", "prompt": f"Question {i}?", "answer": f"Answer {i}.",
         "occurred_at": (base + timedelta(hours=i)).isoformat()}
        for i in range(5)
    ]
    invalid = {"adapter": "Legal Team", "prompt": "", "answer": "x"}
    response = ingest.client.post("/v1/examples", json=[*items, invalid, items[0]], headers=WRITER)

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["imported"], body["duplicates"]) == (5, 1)
    assert [r["index"] for r in body["rejected"]] == [5]
    assert body["example_ids"][5] == body["example_ids"][0]

    everything = ingest.export("legal")
    assert [e["prompt"] for e in everything] == [f"Question {i}?" for i in range(5)]
    assert all(e["target"] == e["correction"] and e["source"] == "import" for e in everything)
    window = ingest.export("legal", since=(base + timedelta(hours=1)).isoformat(),
                           until=(base + timedelta(hours=3)).isoformat())
    assert [e["prompt"] for e in window] == ["Question 1?", "Question 2?"]
    assert len(ingest.export("legal", limit=2)) == 2
    assert ingest.export("other") == []


def test_export_pages_through_many_examples_in_order(ingest_factory) -> None:  # type: ignore[no-untyped-def]
    service = ingest_factory(consumer_enabled=False, export_page_size=7)
    items = [{"adapter": "paged", "prompt": f"P{i}", "answer": f"A{i}",
              "occurred_at": datetime(2026, 1, 1, 0, 0, i % 3, tzinfo=UTC).isoformat()} for i in range(40)]
    assert service.client.post("/v1/examples", json=items, headers=WRITER).status_code == 201

    exported = service.export("paged")
    assert len(exported) == 40 and len({e["example_id"] for e in exported}) == 40
    keys = [(e["occurred_at"], e["example_id"]) for e in exported]
    assert keys == sorted(keys)
    assert len(service.export("paged", limit=10)) == 10
    only = service.export("paged", only_targets="true")
    assert len(only) == 40


def test_invalid_events_on_the_topic_go_to_the_dead_letter_topic(
    ingest: RunningIngest, producer: EventProducer, topics: TopicNames
) -> None:
    topic = topics("inference.logs")
    producer.produce_raw(topic, b"{not json", key=b"support", headers=[])
    producer.produce_raw(topic, b'{"model": "support", "prompt_tokens": "many"}', key=b"support", headers=[])
    producer.publish_sync("inference.logs", make_log())

    dead = read_topic(ingest.settings.kafka_bootstrap, topics.dlq("inference.logs"), expect=2)
    reasons = sorted(dict(m.headers())["adaptloop-dlq-error"].decode() for m in dead)
    assert len(reasons) == 2
    assert any("not JSON" in r for r in reasons) and any("prompt_tokens" in r for r in reasons)
    wait_for(lambda: ingest.export("support"), what="the valid log after the invalid ones")


def test_text_the_database_cannot_hold_does_not_block_the_partition(ingest: RunningIngest) -> None:
    response = ingest.client.post("/v1/logs", json=log_payload(prompt="before\u0000after"), headers=WRITER)
    assert response.status_code == 202

    [example] = wait_for(lambda: ingest.export("support"), what="the log without its NUL character")
    assert example["prompt"] == "beforeafter"
