"""The outbox relay: publishes committed outbox rows to Kafka and marks them sent after the broker's ack.

Several relays may run against one database. Each claims rows with `SELECT ... FOR UPDATE SKIP LOCKED`,
so no row is in flight twice at once, and publishes a row only when every earlier unsent row of the
same key is in its own claim, so one adapter's events reach the broker in commit order.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from adaptloop_common.database import is_database_unavailable
from adaptloop_common.service_database import ServiceDatabase
from adaptloop_contracts import TopicNames
from adaptloop_kafka.tracing import trace_headers
from confluent_kafka import KafkaError, Message
from opentelemetry import propagate, trace
from sqlalchemy import Connection, Integer, Row, bindparam, func, select, update

from adaptloop_registry.caller import utc_now
from adaptloop_registry.infra.tables import outbox
from adaptloop_registry.metrics import RELAY_ERRORS, RELAY_FAILED, RELAYED, UNSENT
from adaptloop_registry.ports import RawProducer

log = logging.getLogger(__name__)
tracer = trace.get_tracer("adaptloop.registry")


# Built once (an iteration's statements cost it more CPU when built and cache-keyed anew each time).
_CLAIM = (select(outbox).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id)
          .limit(bindparam("batch_size", type_=Integer)).with_for_update(skip_locked=True))
_EARLIER_UNSENT = (select(outbox.c.id, outbox.c.event_key)
                   .where(outbox.c.sent_at.is_(None), outbox.c.event_key.in_(bindparam("keys", expanding=True)),
                          outbox.c.id <= bindparam("upto", type_=Integer))
                   .order_by(outbox.c.id))
_MARK_SENT = (update(outbox).where(outbox.c.id.in_(bindparam("ids", expanding=True)))
              .values(sent_at=bindparam("sent_at", type_=outbox.c.sent_at.type)))
_MARK_FAILED = (update(outbox).where(outbox.c.id == bindparam("row_id", type_=Integer))
                .values(attempts=outbox.c.attempts + 1, last_error=bindparam("error", type_=outbox.c.last_error.type)))


class OutboxRelay:
    """Drains the outbox in batches; `run_once` is one claim-publish-mark transaction."""

    def __init__(self, db: ServiceDatabase, producer: RawProducer, *, topics: TopicNames, batch_size: int = 100,
                 poll_interval_s: float = 0.2, publish_timeout_s: float = 15.0, linger_s: float = 0.0,
                 name: str = "relay") -> None:
        self.db = db
        self.producer = producer
        self.topics = topics
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.publish_timeout_s = publish_timeout_s
        self.linger_s = linger_s
        """After a batch that published rows (the outbox is busy), wait this long before claiming again, so
        commits arriving meanwhile share the next batch: each iteration costs about the same CPU whatever
        its size. A batch after an idle spell starts at once."""
        self.name = name
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_heartbeat = 0.0

    def run_once(self) -> int:
        """Publish one batch; returns how many rows were acknowledged and marked sent."""
        with self.db.begin() as conn:
            claimed = list(conn.execute(_CLAIM, {"batch_size": self.batch_size}))
            if not claimed:
                return 0
            UNSENT.set(len(claimed))
            rows = self._in_key_order(conn, claimed)
            if not rows:
                return 0
            acked, failed = self._publish(rows)
            if acked:
                conn.execute(_MARK_SENT, {"ids": acked, "sent_at": utc_now()})
            for row_id, error in failed.items():
                conn.execute(_MARK_FAILED, {"row_id": row_id, "error": error[:2000]})
            RELAYED.inc(len(acked))
            RELAY_FAILED.inc(len(failed))
            return len(acked)

    @staticmethod
    def _in_key_order(conn: Connection, claimed: list[Row[Any]]) -> list[Row[Any]]:
        """Keep a claimed row only if no earlier unsent row of its key is held by another relay."""
        mine = {r.id for r in claimed}
        keys = {r.event_key for r in claimed}
        upto = max(mine)
        blocked: set[str] = set()
        earlier = conn.execute(_EARLIER_UNSENT, {"keys": list(keys), "upto": upto})
        allowed: set[int] = set()
        for row_id, key in earlier:
            if row_id not in mine:
                blocked.add(key)
            elif key not in blocked:
                allowed.add(row_id)
        return [r for r in claimed if r.id in allowed]

    def _publish(self, rows: list[Row[Any]]) -> tuple[list[int], dict[int, str]]:
        acked: list[int] = []
        failed: dict[int, str] = {}
        pending = {r.id for r in rows}
        done = threading.Event()
        lock = threading.Lock()

        def on_delivery(row_id: int) -> Any:
            def _cb(err: KafkaError | None, _msg: Message) -> None:
                with lock:
                    if err is None:
                        acked.append(row_id)
                    else:
                        failed[row_id] = str(err)
                    pending.discard(row_id)
                    if not pending:
                        done.set()
            return _cb

        for row in rows:
            carrier = {k: v for k, v in (("traceparent", row.traceparent), ("tracestate", row.tracestate)) if v}
            with tracer.start_as_current_span("publish_outbox_event", context=propagate.extract(carrier),
                                              kind=trace.SpanKind.PRODUCER,
                                              attributes={"messaging.message.id": row.event_id}):
                headers = trace_headers()
            self.producer.produce_raw(self.topics(row.topic), row.payload.encode("utf-8"),
                                      key=row.event_key.encode("utf-8"), headers=headers,
                                      on_delivery=on_delivery(row.id))
        deadline = time.monotonic() + self.publish_timeout_s
        while not done.is_set() and time.monotonic() < deadline:
            self.producer.poll(0.05)
        with lock:
            for row_id in pending:
                failed.setdefault(row_id, f"no broker acknowledgement within {self.publish_timeout_s}s")
            return list(acked), dict(failed)

    # -- background thread -------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"outbox-{self.name}", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Something was committed: look now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout_s: float = 20.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def close(self, flush_timeout_s: float = 5.0) -> None:
        """At shutdown: stop the thread, flush the producer and close it (its broker connections and threads,
        which otherwise keep retrying and logging until the process exits). Messages still unacknowledged
        after `flush_timeout_s` are dropped from the producer: their rows stay unsent and are published
        after the restart."""
        self.stop()
        flush = getattr(self.producer, "flush", None)
        undelivered = int(flush(flush_timeout_s)) if flush is not None else 0
        raw = getattr(self.producer, "raw", None)
        if raw is None:
            return
        if undelivered:
            log.warning("outbox relay %s: %d events unacknowledged at shutdown stay unsent", self.name, undelivered)
            raw.purge()
        raw.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _loop(self) -> None:
        backoff = self.poll_interval_s
        while not self._stop.is_set():
            self.last_heartbeat = time.monotonic()
            try:
                published = self.run_once()
                backoff = self.poll_interval_s
            except Exception as exc:
                RELAY_ERRORS.inc()
                if is_database_unavailable(exc):  # rows stay unsent and are published once it is back
                    log.warning("outbox relay %s: database unavailable; retrying in %.1fs", self.name, backoff)
                else:
                    log.exception("outbox relay %s: iteration failed; retrying in %.1fs", self.name, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if published < self.batch_size:
                if published and self.linger_s > 0:
                    self._stop.wait(self.linger_s)
                self._wake.wait(self.poll_interval_s)
                self._wake.clear()


def pending_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))).scalar_one())
