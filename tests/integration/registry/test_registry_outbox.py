"""The outbox relay against the real broker: stable event ids, trace continuity, crash safety, no duplicates."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from adaptloop_common.service_database import ServiceDatabase
from adaptloop_contracts import RegistryEvent, TopicNames
from adaptloop_kafka import EventProducer
from adaptloop_registry.bootstrap import create_app
from adaptloop_registry.caller import Caller
from adaptloop_registry.infra.tables import outbox
from adaptloop_registry.outbox import enqueue
from adaptloop_registry.relay import OutboxRelay, pending_count
from fastapi.testclient import TestClient
from registry_testkit import auth, consume, event_of, make_settings, seed_adapter, version_body
from sqlalchemy import select, text

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def unsent(db: ServiceDatabase) -> list[str]:
    with db.begin() as conn:
        return [r.event_id for r in conn.execute(select(outbox.c.event_id).where(outbox.c.sent_at.is_(None)))]


def test_relay_publishes_each_committed_row_with_its_event_id_and_trace(
    backend: tuple[str, str], tmp_path: Path, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = make_settings(backend, tmp_path, relay_enabled=True, kafka_bootstrap=kafka_bootstrap,
                             topic_prefix=topics.prefix)
    with TestClient(create_app(settings)) as c:
        seeded = seed_adapter(c)
        headers = {**auth("trainer"), "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}
        assert c.post(f"/v1/adapters/{seeded['name']}/versions", json=version_body(seeded, passed=True),
                      headers=headers).status_code == 201
        messages = consume(kafka_bootstrap, topics("registry.events"), until=lambda ms: any(
            event_of(m)["event_type"] == "adapter.version_registered" for m in ms))
        runtime = c.app.state.runtime  # type: ignore[attr-defined]
        with runtime.db.begin() as conn:
            row = conn.execute(select(outbox).where(outbox.c.payload.like('%version_registered%'))).one()
    [msg] = [m for m in messages if event_of(m)["event_type"] == "adapter.version_registered"]
    event = RegistryEvent.from_json_bytes(msg.value())
    assert str(event.event_id) == row.event_id and row.sent_at is not None
    assert event.model == seeded["name"] and msg.key() == seeded["name"].encode()
    assert event.sha256 == seeded["weights"] and event.details["config_sha256"] == seeded["config"]
    header = dict(msg.headers())["traceparent"].decode()
    assert header.split("-")[1] == TRACE_ID


def _blackhole() -> tuple[socket.socket, int]:
    """A TCP listener that accepts connections and never answers: a broker that never acknowledges."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


RELAY_PROCESS = """
import sys
from adaptloop_contracts import TopicNames
from adaptloop_kafka import EventProducer
from adaptloop_common.service_database import ServiceDatabase
from adaptloop_registry.relay import OutboxRelay
url, schema, bootstrap, prefix = sys.argv[1:5]
db = ServiceDatabase(url, service="registry", schema=schema)
producer = EventProducer(bootstrap, topics=TopicNames(prefix), config={"message.timeout.ms": 600000})
relay = OutboxRelay(db, producer, topics=TopicNames(prefix), publish_timeout_s=600)
# The test's own polling briefly locks the rows too (SKIP LOCKED), so a pass may find none;
# once the relay holds them it waits for an ack that never comes, until it is killed.
while True:
    relay.run_once()
"""


def test_relay_killed_before_the_ack_republishes_with_the_same_event_id(
    postgres: tuple[str, str], tmp_path: Path, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = make_settings(postgres, tmp_path, topic_prefix=topics.prefix)
    with TestClient(create_app(settings)) as c:
        seeded = seed_adapter(c)
        assert c.post(f"/v1/adapters/{seeded['name']}/versions", json=version_body(seeded),
                      headers=auth("trainer")).status_code == 201
    db = ServiceDatabase(postgres[0], service="registry", schema=postgres[1])
    committed = unsent(db)
    assert len(committed) == 2  # base_model.registered, adapter.version_registered

    hole, port = _blackhole()
    proc = subprocess.Popen([sys.executable, "-c", RELAY_PROCESS, postgres[0], postgres[1], f"127.0.0.1:{port}",
                             topics.prefix])
    try:
        deadline = time.monotonic() + 120  # generous: a loaded machine imports slowly
        while True:  # wait until the relay holds its claim (publishing, waiting for the ack)
            with db.begin() as conn:
                free = conn.execute(select(outbox.c.id).where(outbox.c.sent_at.is_(None))
                                    .with_for_update(skip_locked=True)).all()
            if not free:
                break
            assert proc.poll() is None, f"relay process exited with {proc.returncode} before claiming"
            assert time.monotonic() < deadline, "relay never claimed the rows"
            time.sleep(0.05)
        proc.kill()
        proc.wait(10)
    finally:
        hole.close()
    assert sorted(unsent(db)) == sorted(committed)

    producer = EventProducer(kafka_bootstrap, topics=topics)
    relay = OutboxRelay(db, producer, topics=topics, publish_timeout_s=30)
    deadline = time.monotonic() + 30
    while unsent(db):  # the killed session's locks go when PostgreSQL notices the dropped connection
        relay.run_once()
        assert time.monotonic() < deadline
    messages = consume(kafka_bootstrap, topics("registry.events"), until=lambda ms: len(ms) >= 2)
    assert sorted(event_of(m)["event_id"] for m in messages) == sorted(committed)
    db.dispose()


def test_ack_lost_after_publish_republishes_the_same_event_id(
    postgres: tuple[str, str], kafka_bootstrap: str, topics: TopicNames
) -> None:
    db = ServiceDatabase(postgres[0], service="registry", schema=postgres[1])
    db.upgrade()
    with db.begin() as conn:
        event_id = enqueue(conn, RegistryEvent(event_type="base_model.registered", model="base-x"),
                           caller=Caller("alice"))

    class DiesAfterSend(EventProducer):
        def poll(self, timeout_s: float = 0.0) -> int:
            self.flush(10)  # the broker has the message ...
            raise SystemExit("relay process died before recording the ack")  # ... but the relay is gone

    with pytest.raises(SystemExit):
        OutboxRelay(db, DiesAfterSend(kafka_bootstrap, topics=topics), topics=topics).run_once()
    assert unsent(db) == [event_id]
    assert OutboxRelay(db, EventProducer(kafka_bootstrap, topics=topics), topics=topics).run_once() == 1
    messages = consume(kafka_bootstrap, topics("registry.events"), until=lambda ms: len(ms) >= 2)
    assert [event_of(m)["event_id"] for m in messages] == [event_id, event_id]  # consumers dedupe by event_id
    db.dispose()


def test_rolled_back_transaction_publishes_nothing(
    backend: tuple[str, str], kafka_bootstrap: str, topics: TopicNames
) -> None:
    db = ServiceDatabase(backend[0], service="registry", schema=backend[1])
    db.upgrade()
    with pytest.raises(RuntimeError), db.begin() as conn:
        enqueue(conn, RegistryEvent(event_type="base_model.registered", model="rolled-back"), caller=Caller("a"))
        raise RuntimeError("the change failed after its event was staged")
    with db.begin() as conn:
        sentinel = enqueue(conn, RegistryEvent(event_type="base_model.registered", model="sentinel"),
                           caller=Caller("a"))
    OutboxRelay(db, EventProducer(kafka_bootstrap, topics=topics), topics=topics).run_once()
    messages = consume(kafka_bootstrap, topics("registry.events"),
                       until=lambda ms: any(event_of(m)["event_id"] == sentinel for m in ms))
    assert [event_of(m)["model"] for m in messages] == ["sentinel"]
    db.dispose()


def test_two_relays_publish_every_row_once_and_keep_each_key_in_order(
    postgres: tuple[str, str], kafka_bootstrap: str, topics: TopicNames
) -> None:
    db = ServiceDatabase(postgres[0], service="registry", schema=postgres[1])
    db.upgrade()
    keys = [f"k{i}" for i in range(5)]
    with db.begin() as conn:
        for seq in range(200):
            enqueue(conn, RegistryEvent(event_type="base_model.registered", model=keys[seq % 5],
                                        details={"seq": seq}), caller=Caller("a"))
    relays = [OutboxRelay(db, EventProducer(kafka_bootstrap, topics=topics), topics=topics, batch_size=7,
                          name=f"r{i}") for i in range(2)]
    for relay in relays:
        relay.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            with db.begin() as conn:
                if pending_count(conn) == 0:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        for relay in relays:
            relay.stop()
    messages = consume(kafka_bootstrap, topics("registry.events"), until=lambda ms: len(ms) >= 200)
    events = [event_of(m) for m in messages]
    assert len(events) == 200 and len({e["event_id"] for e in events}) == 200
    for key in keys:
        seqs = [e["details"]["seq"] for e in events if e["model"] == key]
        assert seqs == sorted(seqs) and len(seqs) == 40
    with db.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox WHERE attempts > 0")).scalar_one() == 0
    db.dispose()


