"""PostgreSQL taken away from a running registry (a TCP proxy cut) and given back: every database
route answers 503 with Retry-After quickly, readiness says why, the outbox relay waits, and after the
restore the registry serves again without a restart and publishes every committed outbox row."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from adaptloop_contracts import TopicNames
from adaptloop_devstack.postgres import sqlalchemy_url
from adaptloop_devstack.tcp_proxy import TcpProxy
from adaptloop_kafka import ensure_topics
from adaptloop_registry.bootstrap import create_app
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from registry_testkit import auth, consume, event_of, live_server, make_settings, seed_adapter, version_body


@dataclass
class Outage:
    proxy: TcpProxy
    client: httpx.Client
    pg_dsn: str
    schema: str
    kafka: str
    topics: TopicNames
    tmp: Path


@pytest.fixture(scope="module")
def outage(kafka_bootstrap: str, pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    proxy = TcpProxy.for_dsn(pg_dsn).start()
    topics = TopicNames(f"t{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_bootstrap, topics.all_with_partitions())
    schema, tmp = f"s_{uuid.uuid4().hex[:10]}", tmp_path_factory.mktemp("registry-outage")
    settings = make_settings((sqlalchemy_url(proxy.dsn(pg_dsn)), schema), tmp, relay_enabled=True,
                             kafka_bootstrap=kafka_bootstrap, topic_prefix=topics.prefix, relay_poll_interval_s=0.1)
    try:
        with live_server(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
            yield Outage(proxy, client, pg_dsn, schema, kafka_bootstrap, topics, tmp)
    finally:
        proxy.stop()


def _outbox(outage: Outage) -> dict[str, bool]:
    """event_id -> sent, read straight from PostgreSQL (not through the proxy)."""
    with psycopg.connect(outage.pg_dsn) as conn:
        rows = conn.execute(f'SELECT event_id, sent_at IS NOT NULL FROM "{outage.schema}".outbox').fetchall()
    return {event_id: sent for event_id, sent in rows}


def _published(outage: Outage, expected: set[str]) -> list[str]:
    messages = consume(outage.kafka, outage.topics("registry.events"),
                       until=lambda ms: expected <= {event_of(m)["event_id"] for m in ms})
    return [event_of(m)["event_id"] for m in messages]


def _poll(check: Callable[[], Any], *, what: str, timeout_s: float = 30.0) -> Any:
    """`check()` once it is truthy; fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return result


def _relay_errors() -> float:
    return REGISTRY.get_sample_value("adaptloop_registry_relay_errors_total") or 0.0


def test_registry_answers_503_during_an_outage_and_publishes_everything_after_it(outage: Outage) -> None:
    client, proxy = outage.client, outage.proxy
    seeded = seed_adapter(client)
    name = seeded["name"]
    first = client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded, request_id="before"),
                        headers=auth("trainer"))
    assert first.status_code == 201, first.text
    _published(outage, set(_outbox(outage)))
    relay_errors = _relay_errors()

    proxy.cut()
    try:
        for method, path, body in (
            ("POST", f"/v1/adapters/{name}/versions", version_body(seeded, request_id="during")),
            ("GET", f"/v1/adapters/{name}", None),
            ("GET", f"/v1/adapters/{name}/versions", None),
            ("GET", "/v1/serving-plan", None),
        ):
            started = time.monotonic()
            response = client.request(method, path, json=body, headers=auth("trainer"))
            assert response.status_code == 503, (method, path, response.status_code, response.text)
            assert response.headers["Retry-After"] == "1"
            assert time.monotonic() - started < 10, f"{method} {path} took too long to give up"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
        assert client.get("/healthz").status_code == 200

        # Another replica, whose path to the database works, commits a registration meanwhile;
        # the cut-off relay cannot publish it.
        replica = make_settings((sqlalchemy_url(outage.pg_dsn), outage.schema), outage.tmp, relay_enabled=False)
        with TestClient(create_app(replica)) as other:
            second = other.post(f"/v1/adapters/{name}/versions", json=version_body(seeded, request_id="replica"),
                                headers=auth("trainer"))
            assert second.status_code == 201, second.text
        _poll(lambda: _relay_errors() >= relay_errors + 2, what="the relay meeting the outage")
        unsent = [event_id for event_id, sent in _outbox(outage).items() if not sent]
        assert len(unsent) == 1, unsent
    finally:
        proxy.restore()

    retried = client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded, request_id="during"),
                          headers=auth("trainer"))
    assert retried.status_code == 201, retried.text  # the first request after the restore succeeds
    assert [v["version"] for v in client.get(f"/v1/adapters/{name}/versions").json()] == [1, 2, 3]

    _poll(lambda: all(_outbox(outage).values()), what="every outbox row sent")
    rows = _outbox(outage)
    published = _published(outage, set(rows))
    assert set(published) == set(rows), "an outbox row committed before or during the outage was not published"
    assert client.get("/readyz").status_code == 200
