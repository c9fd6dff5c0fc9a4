"""Personal data never reaches a topic or the store unredacted: every detector, every privacy mode,
read back from every topic of the test's prefix, the database and the export (real broker and database)."""

from __future__ import annotations

from typing import Any

import psycopg
from adaptloop_common.privacy import PrivacyMode, PrivacySettings
from adaptloop_contracts import InferenceLog, TopicNames
from adaptloop_devstack.topic_dump import read_every_topic
from adaptloop_scenarios.personal_data import RAW_VALUES, leaks, unique_sentence
from ingest_support import WRITER, RunningIngest, log_payload, wait_for

MODES = {"crm": PrivacyMode.HASH, "legal": PrivacyMode.DROP}


def _database_text(pg_dsn: str, schema: str) -> list[bytes]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        rows = [*conn.execute("SELECT row_to_json(e)::text FROM examples e"),
                *conn.execute("SELECT row_to_json(p)::text FROM pending_feedback p")]
    return [text.encode() for (text,) in rows]


def test_no_raw_value_reaches_any_topic_the_store_or_the_export(
    ingest_factory: Any, kafka_bootstrap: str, topics: TopicNames, pg_dsn: str, pg_schema: str
) -> None:
    ingest: RunningIngest = ingest_factory(
        privacy=PrivacySettings(adapter_modes=MODES, hash_key="a-key-of-at-least-16-chars"))
    sentence = unique_sentence()
    logs = [log_payload(adapter, prompt=text, completion=f"Noted: {text}", metadata={"note": text})
            for adapter, text in (("support", sentence), ("crm", sentence), ("crm", unique_sentence()),
                                  ("legal", sentence))]
    logged = ingest.client.post("/v1/logs", json=logs, headers=WRITER)
    assert logged.status_code == 202, logged.text
    ids = logged.json()["event_ids"]
    ratings = [{"model": log["model"], "inference_event_id": event_id, "score": -0.5, "correction": sentence}
               for log, event_id in zip(logs, ids, strict=True)]
    assert ingest.client.post("/v1/feedback", json=ratings, headers=WRITER).status_code == 202
    curated = {"adapter": "support", "prompt": sentence, "answer": f"Write to {RAW_VALUES['email']}"}
    assert ingest.client.post("/v1/examples", json=curated, headers=WRITER).status_code == 201

    wait_for(lambda: len([e for e in ingest.export("support") if e["correction"]]) == 2
             and len([e for e in ingest.export("crm") if e["correction"]]) == 2, what="logs joined with ratings")
    exported = {adapter: ingest.export(adapter) for adapter in ("support", "crm", "legal")}
    blobs = read_every_topic(kafka_bootstrap, topics)

    assert leaks(blobs) == []
    assert leaks(_database_text(pg_dsn, pg_schema)) == []
    assert leaks([str(exported).encode()]) == []
    published = [InferenceLog.from_json_bytes(b) for b in blobs if b.startswith(b"{") and b'"inference.log"' in b]
    by_adapter = {log.model: log for log in published}
    assert by_adapter["support"].prompt.startswith("I am [EMAIL], call [PHONE]; my card [CARD] and IBAN [IBAN]")
    assert "[SECRET]" in by_adapter["support"].metadata["note"]
    assert by_adapter["legal"].prompt == by_adapter["legal"].completion == ""  # drop: the text is not published
    assert exported["legal"] == []
    # hash: the same e-mail gives the same token in both logs and in the export, so they stay joinable
    tokens = {e["prompt"].split()[2] for e in exported["crm"]}
    assert len(tokens) == 1 and next(iter(tokens)).startswith("[EMAIL:")
    assert [e["prompt"] for e in exported["support"] if e["source"] == "import"] == [
        by_adapter["support"].prompt]
