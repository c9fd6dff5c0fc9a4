"""A consumer loop that validates every message against its topic's contract.

Invalid messages go to `<topic>.dlq` with the reason and the source coordinates; the
offset is committed only after the handler (or the dead-letter write) finished, so a
crash redelivers instead of losing. A poison message never blocks its partition.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from adaptloop_contracts import Event, InvalidEvent, TopicNames, decode_for_topic
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from opentelemetry import trace
from opentelemetry.context import Context
from prometheus_client import Counter

from adaptloop_kafka.clients import BrokerTarget
from adaptloop_kafka.connection import KafkaConnection
from adaptloop_kafka.dlq import dead_letter_headers
from adaptloop_kafka.producer import EventProducer
from adaptloop_kafka.tracing import context_from_headers

log = logging.getLogger(__name__)

GROUP_SESSION_TIMEOUT_MS = 6_000
"""Session timeout of every consumer group member: the lowest a Kafka broker accepts by default
(`group.min.session.timeout.ms`). Some brokers hold a first JoinGroup for half of it, so a larger
value slows every start and rebalance without making a member safer: heartbeats run in the
background, and slow processing is bounded by `max.poll.interval.ms` instead."""
tracer = trace.get_tracer("adaptloop.kafka")

CONSUMED = Counter("adaptloop_kafka_consumed_total", "Valid events handled", ["topic"])
DEAD_LETTERED = Counter("adaptloop_kafka_dead_lettered_total", "Messages sent to a dead-letter topic", ["topic"])


class RejectedEvent(Exception):
    """Raised by a handler for a well-formed event it cannot accept (e.g. an unknown adapter)."""


@dataclass(frozen=True)
class ConsumedEvent:
    topic_base: str
    event: Event
    partition: int
    offset: int
    headers: list[tuple[str, bytes]]
    trace_context: Context


Handler = Callable[[ConsumedEvent], None]


class EventConsumer:
    """Consumes contract topics with manual commits and dead-letter routing."""

    def __init__(
        self,
        bootstrap: BrokerTarget,
        *,
        group_id: str,
        topic_bases: Iterable[str],
        producer: EventProducer,
        topics: TopicNames | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.topics = topics or TopicNames()
        self.topic_bases = list(topic_bases)
        self.group_id = group_id
        self._producer = producer
        defaults: dict[str, Any] = {
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # librdkafka's background heartbeats keep a busy consumer in its group.
            "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": 1_000,
            "max.poll.interval.ms": 300_000,
        }
        self.client_config = KafkaConnection.of(bootstrap).client_config(defaults, overrides=config)
        self._consumer = Consumer(self.client_config)
        self._stop = threading.Event()
        self.assigned = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self, handler: Handler, *, poll_timeout_s: float = 0.2) -> None:
        """Poll until `stop()`; handler exceptions other than `RejectedEvent` propagate (crash, redeliver)."""
        self._consumer.subscribe(
            [self.topics(b) for b in self.topic_bases],
            on_assign=lambda c, parts: self.assigned.set(),
        )
        try:
            while not self._stop.is_set():
                msg = self._consumer.poll(poll_timeout_s)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer error on %s: %s", msg.topic(), msg.error())
                    continue
                self.handle_message(msg, handler)
        finally:
            self._consumer.close()

    def handle_message(self, msg: Message, handler: Handler) -> None:
        topic = msg.topic() or ""
        base = self.topics.base_of(topic)
        headers = list(msg.headers() or [])
        ctx = context_from_headers(headers)
        try:
            event = decode_for_topic(base, msg.value())
        except InvalidEvent as exc:
            self.dead_letter(msg, exc.reason)
        else:
            consumed = ConsumedEvent(base, event, msg.partition() or 0, msg.offset() or 0, headers, ctx)
            try:
                with tracer.start_as_current_span(f"consume {base}", context=ctx):
                    handler(consumed)
                CONSUMED.labels(base).inc()
            except RejectedEvent as exc:
                self.dead_letter(msg, str(exc))
        self.commit(msg)

    def dead_letter(self, msg: Message, reason: str) -> None:
        topic = msg.topic() or ""
        log.warning("dead-lettering %s[%s]@%s: %s", topic, msg.partition(), msg.offset(), reason)
        headers = list(msg.headers() or []) + dead_letter_headers(
            topic=topic, partition=msg.partition() or 0, offset=msg.offset() or 0, reason=reason, consumer=self.group_id
        )
        done = threading.Event()
        failures: list[KafkaError] = []

        def _cb(err: KafkaError | None, _m: Message) -> None:
            if err is not None:
                failures.append(err)
            done.set()

        self._producer.produce_raw(topic + ".dlq", msg.value(), key=msg.key(), headers=headers, on_delivery=_cb)
        self._producer.wait(done, 30.0)
        if failures:
            raise RuntimeError(f"dead-letter write to {topic}.dlq failed: {failures[0]}")
        DEAD_LETTERED.labels(topic).inc()

    def commit(self, msg: Message) -> None:
        tp = TopicPartition(msg.topic(), msg.partition(), (msg.offset() or 0) + 1)
        for attempt in range(5):
            try:
                self._consumer.commit(offsets=[tp], asynchronous=False)
                return
            except Exception as exc:
                log.warning("commit failed (attempt %d): %s", attempt + 1, exc)
                time.sleep(0.2 * (attempt + 1))
