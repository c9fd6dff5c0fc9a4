"""The outbox relay's bookkeeping with a fake producer on a throwaway SQLite file (nothing running)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from adaptloop_common.service_database import ServiceDatabase
from adaptloop_contracts import RegistryEvent, TopicNames
from adaptloop_registry.bootstrap import build_runtime, create_app
from adaptloop_registry.caller import Caller
from adaptloop_registry.config import Settings
from adaptloop_registry.infra.tables import outbox
from adaptloop_registry.outbox import enqueue
from adaptloop_registry.relay import OutboxRelay
from fastapi.testclient import TestClient
from sqlalchemy import select


class FakeProducer:
    """Records messages; acknowledges them on poll unless told to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, bytes, bytes, dict[str, bytes]]] = []
        self._pending: list[Any] = []

    def produce_raw(self, topic: str, value: bytes | None, *, key: bytes | None,
                    headers: list[tuple[str, bytes]] | None, on_delivery: Any = None) -> None:
        assert value is not None and key is not None
        self.sent.append((topic, key, value, dict(headers or [])))
        self._pending.append(on_delivery)

    def poll(self, timeout_s: float = 0.0) -> int:
        callbacks, self._pending = self._pending, []
        for cb in callbacks:
            cb("broker down" if self.fail else None, None)
        return len(callbacks)


def make_db(tmp_path: Path) -> ServiceDatabase:
    db = ServiceDatabase(f"sqlite:///{tmp_path / 'r.db'}", service="registry")
    db.upgrade()
    return db


def stage(db: ServiceDatabase, model: str, trace: dict[str, str] | None = None) -> str:
    with db.begin() as conn:
        return enqueue(conn, RegistryEvent(event_type="base_model.registered", model=model),
                       caller=Caller("alice", trace or {}))


def test_marks_sent_only_after_the_ack_and_keeps_order(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ids = [stage(db, f"m{i % 2}", {"traceparent": traceparent}) for i in range(5)]
    failing = FakeProducer(fail=True)
    relay = OutboxRelay(db, failing, topics=TopicNames("p."), publish_timeout_s=1)
    assert relay.run_once() == 0
    with db.begin() as conn:
        rows = list(conn.execute(select(outbox).order_by(outbox.c.id)))
    assert all(r.sent_at is None and r.attempts == 1 and r.last_error for r in rows)

    ok = FakeProducer()
    assert OutboxRelay(db, ok, topics=TopicNames("p."), publish_timeout_s=1).run_once() == 5
    assert [RegistryEvent.from_json_bytes(v).event_id for _, _, v, _ in ok.sent] == [
        RegistryEvent.from_json_bytes(v).event_id for _, _, v, _ in failing.sent]
    assert [str(RegistryEvent.from_json_bytes(v).event_id) for _, _, v, _ in ok.sent] == ids
    assert {t for t, _, _, _ in ok.sent} == {"p.registry.events"}
    assert ok.sent[0][3]["traceparent"].decode().split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert OutboxRelay(db, ok, topics=TopicNames("p."), publish_timeout_s=1).run_once() == 0


def test_a_silent_broker_leaves_rows_unsent(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    stage(db, "m")

    class Silent(FakeProducer):
        def poll(self, timeout_s: float = 0.0) -> int:
            return 0

    assert OutboxRelay(db, Silent(), topics=TopicNames(), publish_timeout_s=0.2).run_once() == 0
    with db.begin() as conn:
        row = conn.execute(select(outbox)).one()
    assert row.sent_at is None and "no broker acknowledgement" in row.last_error


def test_a_busy_outbox_is_published_in_shared_batches(tmp_path: Path) -> None:
    """After a batch that published rows the relay lingers, so rows committed meanwhile (each waking it) share
    the next batch instead of one batch each."""
    db = make_db(tmp_path)
    batches: list[int] = []

    class Counted(OutboxRelay):
        def run_once(self) -> int:
            published = super().run_once()
            if published:
                batches.append(published)
            return published

    relay = Counted(db, FakeProducer(), topics=TopicNames(), poll_interval_s=5.0, linger_s=1.0, publish_timeout_s=1)
    relay.start()
    try:
        stage(db, "m")
        relay.wake()
        deadline = time.monotonic() + 10
        while not batches:
            assert time.monotonic() < deadline, "the first row was not published"
            time.sleep(0.01)
        for i in range(3):  # commits 0.1 s apart, while the relay lingers after its first batch
            stage(db, f"n{i}")
            relay.wake()
            time.sleep(0.1)  # spacing the commits (not waiting for anything): without the linger, one batch each
        while sum(batches) < 4:
            assert time.monotonic() < deadline, f"not every row was published: {batches}"
            time.sleep(0.01)
    finally:
        relay.stop()
    assert batches == [1, 3]


class ClosableProducer(FakeProducer):
    """Also flushes (reporting `undelivered`) and has a librdkafka side that records purge and close."""

    def __init__(self, undelivered: int = 0) -> None:
        super().__init__()
        self.undelivered = undelivered
        self.calls: list[str] = []
        self.raw = self

    def flush(self, timeout_s: float = 10.0) -> int:
        self.calls.append("flush")
        return self.undelivered

    def purge(self) -> None:
        self.calls.append("purge")

    def close(self) -> bool:
        self.calls.append("close")
        return True


def test_the_apps_shutdown_flushes_and_closes_the_relays_producer(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'r.db'}", artifact_dir=str(tmp_path / "artifacts"),
                        relay_enabled=True, kafka_bootstrap="127.0.0.1:1")
    producer = ClosableProducer()
    runtime = build_runtime(settings, producer=producer)
    with TestClient(create_app(settings, runtime=runtime)):
        assert runtime.relay is not None and runtime.relay.running
    assert not runtime.relay.running
    assert producer.calls == ["flush", "close"]


def test_events_unacknowledged_at_shutdown_are_dropped_from_the_producer_and_stay_unsent(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    stage(db, "m")

    class Silent(ClosableProducer):
        def poll(self, timeout_s: float = 0.0) -> int:
            return 0

    producer = Silent(undelivered=1)
    relay = OutboxRelay(db, producer, topics=TopicNames(), publish_timeout_s=0.2)
    assert relay.run_once() == 0
    relay.close(flush_timeout_s=0.1)
    assert producer.calls == ["flush", "purge", "close"]
    with db.begin() as conn:
        assert conn.execute(select(outbox.c.sent_at)).scalar_one() is None
