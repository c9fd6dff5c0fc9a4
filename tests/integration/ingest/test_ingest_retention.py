"""Retention: ingest itself deletes rows past their TTL, per table and per adapter (real database)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from adaptloop_contracts import InferenceFeedback
from adaptloop_kafka import EventProducer
from ingest_support import WRITER, RunningIngest, wait_for


def _sql(pg_dsn: str, schema: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def test_rows_past_their_ttl_are_deleted_by_the_service(
    ingest_factory, producer: EventProducer, pg_dsn: str, pg_schema: str  # type: ignore[no-untyped-def]
) -> None:
    ingest: RunningIngest = ingest_factory(
        retention_interval_s=0.2, example_ttl_days=30, example_ttl_days_by_adapter={"short": 1, "forever": None},
        pending_feedback_ttl_days=7, seen_events_ttl_days=20,
    )
    items = [{"adapter": adapter, "prompt": f"Q {adapter}", "answer": "A"} for adapter in ("short", "kept", "forever")]
    assert ingest.client.post("/v1/examples", json=items, headers=WRITER).status_code == 201
    orphan = InferenceFeedback(model="short", inference_event_id=uuid.uuid4(), score=1.0)
    producer.publish_sync("inference.feedback", orphan)
    wait_for(lambda: _sql(pg_dsn, pg_schema, "SELECT 1 FROM pending_feedback"), what="the pending rating")

    # Age everything: 2 days old is past `short`'s TTL only; 40 days is past the default and seen_events'.
    _sql(pg_dsn, pg_schema, "UPDATE examples SET stored_at = now() - interval '2 days' WHERE adapter <> 'kept'")
    _sql(pg_dsn, pg_schema, "UPDATE examples SET stored_at = now() - interval '20 days' WHERE adapter = 'kept'")
    _sql(pg_dsn, pg_schema, "UPDATE pending_feedback SET received_at = now() - interval '8 days'")
    _sql(pg_dsn, pg_schema, "UPDATE seen_events SET seen_at = now() - interval '21 days'")

    wait_for(lambda: _sql(pg_dsn, pg_schema, "SELECT count(*) FROM pending_feedback") == [(0,)]
             and _sql(pg_dsn, pg_schema, "SELECT count(*) FROM seen_events") == [(0,)],
             what="the old rating and sightings swept")
    assert {a for (a,) in _sql(pg_dsn, pg_schema, "SELECT adapter FROM examples")} == {"kept", "forever"}

    _sql(pg_dsn, pg_schema, "UPDATE examples SET stored_at = now() - interval '400 days'")
    wait_for(lambda: _sql(pg_dsn, pg_schema, "SELECT adapter FROM examples") == [("forever",)],
             what="the default TTL applied, the adapter kept forever untouched")
