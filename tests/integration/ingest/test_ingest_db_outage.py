"""PostgreSQL taken away from a running ingest (a TCP proxy cut) and given back: events keep being
accepted into Kafka, reads and imports answer 503 with Retry-After, the example-store consumer holds
its events uncommitted, and after the restore every event is stored without a restart."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from adaptloop_common.privacy import PrivacySettings
from adaptloop_contracts import TopicNames
from adaptloop_devstack.tcp_proxy import TcpProxy
from adaptloop_kafka import ensure_topics
from confluent_kafka import Consumer, TopicPartition
from ingest_support import READER, WRITER, RunningIngest, log_payload, make_settings, wait_for
from prometheus_client import REGISTRY


@dataclass
class Outage:
    proxy: TcpProxy
    ingest: RunningIngest
    kafka: str
    topics: TopicNames
    posted: int = 0
    """Logs posted in this module: once all are stored, the consumer's committed offsets add up to it."""


@pytest.fixture(scope="module")
def outage(kafka_bootstrap: str, pg_dsn: str) -> Iterator[Outage]:
    proxy = TcpProxy.for_dsn(pg_dsn).start()
    topics = TopicNames(f"t{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_bootstrap, topics.all_with_partitions())
    settings = make_settings(kafka_bootstrap, topics, proxy.dsn(pg_dsn), f"s_{uuid.uuid4().hex[:10]}",
                             privacy=PrivacySettings(rules=[]))
    try:
        with RunningIngest(settings) as ingest:
            yield Outage(proxy, ingest, kafka_bootstrap, topics)
    finally:
        proxy.stop()


def _post_logs(outage: Outage, adapter: str, count: int) -> None:
    response = outage.ingest.client.post("/v1/logs", json=[log_payload(adapter) for _ in range(count)],
                                         headers=WRITER)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == count
    outage.posted += count


def _stored(outage: Outage, adapter: str) -> int:
    return len(outage.ingest.export(adapter))


def _committed(outage: Outage) -> int:
    """Offsets the example-store consumer committed on inference.logs, over all partitions."""
    topic = outage.topics("inference.logs")
    reader = Consumer({"bootstrap.servers": outage.kafka, "group.id": outage.ingest.settings.consumer_group,
                       "enable.auto.commit": False})
    try:
        partitions = [TopicPartition(topic, p) for p in reader.list_topics(topic, timeout=10).topics[topic].partitions]
        return sum(max(tp.offset, 0) for tp in reader.committed(partitions, timeout=10))
    finally:
        reader.close()


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_restored_database_is_used_again_at_once(outage: Outage) -> None:
    adapter = f"pp{uuid.uuid4().hex[:6]}"
    _post_logs(outage, adapter, 3)
    wait_for(lambda: _stored(outage, adapter) == 3, what="3 stored examples")

    outage.proxy.cut()  # every pooled connection dies; nothing touches the database meanwhile
    outage.proxy.restore()

    response = outage.ingest.client.get("/v1/examples", params={"adapter": adapter}, headers=READER)
    assert response.status_code == 200, response.text  # pooled connections are tested before use
    assert len(response.text.splitlines()) == 3


def test_events_accepted_during_an_outage_are_stored_after_it(outage: Outage) -> None:
    client, proxy = outage.ingest.client, outage.proxy
    adapter = f"dbo{uuid.uuid4().hex[:6]}"
    _post_logs(outage, adapter, 5)
    wait_for(lambda: _stored(outage, adapter) == 5, what="5 stored examples before the outage")
    wait_for(lambda: _committed(outage) == outage.posted, what="every offset committed")
    restarts = _metric("adaptloop_ingest_consumer_restarts_total")
    held = _metric("adaptloop_database_unavailable_total", where="ingest:consumer")

    proxy.cut()
    try:
        _post_logs(outage, adapter, 10)  # Kafka still takes events: accepting them needs no database
        for method, path, kwargs in (
            ("GET", "/v1/examples", {"params": {"adapter": adapter}, "headers": READER}),
            ("POST", "/v1/examples", {"json": [{"adapter": adapter, "prompt": "p?", "answer": "a."}],
                                      "headers": WRITER}),
        ):
            response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
            assert response.status_code == 503, (method, path, response.status_code, response.text)
            assert response.headers["Retry-After"] == str(outage.ingest.settings.retry_after_s)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
        assert client.get("/healthz").status_code == 200

        wait_for(lambda: _metric("adaptloop_database_unavailable_total", where="ingest:consumer") > held,
                 what="the consumer meeting the outage")
        assert _committed(outage) == outage.posted - 10, "the consumer committed past events it could not store"
    finally:
        proxy.restore()

    wait_for(lambda: _stored(outage, adapter) == 15, timeout_s=60, what="all 15 events stored after the outage")
    wait_for(lambda: _committed(outage) == outage.posted, what="every offset committed after it")
    assert _metric("adaptloop_ingest_consumer_restarts_total") == restarts, "the consumer restarted"
    imported = client.post("/v1/examples", json=[{"adapter": adapter, "prompt": "p?", "answer": "a."}], headers=WRITER)
    assert imported.status_code == 201, imported.text
    assert _stored(outage, adapter) == 16
