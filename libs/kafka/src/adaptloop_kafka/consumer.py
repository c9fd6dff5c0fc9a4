"""The consumer plumbing every service uses: configuration, end of partition, dead letters, commits.

`EventConsumer` is the whole loop for a consumer that commits after each message: it validates every
message against its topic's contract, hands valid events to the handler, and sends invalid ones (and
those the handler rejects) to `TopicNames.dlq()` of the topic with the reason and the source
coordinates. The offset is committed only after the handler (or the dead-letter write) finished, so a
crash redelivers instead of losing; a poison message never blocks its partition. A service declares
a consumer (group, topics, client options) and writes its handler; consumers with another commit
discipline (the trainer commits once a job ended) build on the same pieces: `consumer_config`,
`is_record`, `DeadLetters` and `commit_offset`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from adaptloop_contracts import Event, InvalidEvent, TopicNames, decode_for_topic
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from opentelemetry import trace
from opentelemetry.context import Context
from prometheus_client import Counter

from adaptloop_kafka.clients import BrokerTarget
from adaptloop_kafka.connection import KafkaConnection
from adaptloop_kafka.dlq import DeadLetters, SourceRecord
from adaptloop_kafka.producer import EventProducer
from adaptloop_kafka.tracing import ReceivedHeaders, context_from_headers, received_headers

log = logging.getLogger(__name__)

GROUP_SESSION_TIMEOUT_MS = 6_000
"""Session timeout of every consumer group member: the lowest a Kafka broker accepts by default
(`group.min.session.timeout.ms`). Some brokers hold a first JoinGroup for half of it, so a larger
value slows every start and rebalance without making a member safer: heartbeats run in the
background, and slow processing is bounded by `max.poll.interval.ms` instead."""
COMMIT_ATTEMPTS = 5
COMMIT_BACKOFF_S = 0.2
"""A failed commit is retried after 0.2 s, 0.4 s, ... (`COMMIT_ATTEMPTS` tries in all)."""
tracer = trace.get_tracer("adaptloop.kafka")

CONSUMED = Counter("adaptloop_kafka_consumed_total", "Valid events handled", ["topic"])


class RejectedEvent(Exception):
    """Raised by a handler for a well-formed event it cannot accept (e.g. an unknown adapter)."""


@dataclass(frozen=True)
class ConsumedEvent:
    topic_base: str
    event: Event
    partition: int
    offset: int
    headers: ReceivedHeaders
    trace_context: Context


Handler = Callable[[ConsumedEvent], None]


def consumer_config(target: BrokerTarget, *, group_id: str,
                    overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A group member's librdkafka config: manual commits, from the earliest offset, the shared
    `ADAPTLOOP_KAFKA_*` options, then the consumer's own `overrides` (e.g. `auto.offset.reset`,
    `fetch.wait.max.ms`)."""
    defaults: dict[str, Any] = {
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # librdkafka's background heartbeats keep a busy consumer in its group.
        "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": 1_000,
        "max.poll.interval.ms": 300_000,
    }
    return KafkaConnection.of(target).client_config(defaults, overrides=overrides)


def is_record(msg: Message | None) -> TypeGuard[Message]:
    """True for a message to handle; False for nothing, the end of a partition, or a (logged) client error."""
    if msg is None:
        return False
    error = msg.error()
    if error is None:
        return True
    if error.code() != KafkaError._PARTITION_EOF:
        log.warning("consumer error on %s: %s", msg.topic(), error)
    return False


def commit_offset(consumer: Consumer, topic: str, partition: int, next_offset: int, *,
                  attempts: int = COMMIT_ATTEMPTS, backoff_s: float = COMMIT_BACKOFF_S) -> bool:
    """Commit synchronously, retrying a failed commit; False when every attempt failed (logged), in which
    case the message is delivered again after a restart or rebalance, never lost."""
    tp = TopicPartition(topic, partition, next_offset)
    for attempt in range(1, attempts + 1):
        try:
            consumer.commit(offsets=[tp], asynchronous=False)
            return True
        except Exception as exc:
            log.warning("commit %s[%d]@%d failed (attempt %d): %s", topic, partition, next_offset, attempt, exc)
            if attempt < attempts:
                time.sleep(backoff_s * attempt)
    return False


class EventConsumer:
    """Consumes contract topics with manual commits and dead-letter routing.

    The declaration is the group, the topic bases and, in `config`, any client option of this consumer
    (they win over the defaults and the shared settings)."""

    def __init__(
        self,
        bootstrap: BrokerTarget,
        *,
        group_id: str,
        topic_bases: Iterable[str],
        producer: EventProducer,
        topics: TopicNames | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.topics = topics or TopicNames()
        self.topic_bases = list(topic_bases)
        self.group_id = group_id
        self.dead_letters = DeadLetters(producer, consumer=group_id, topics=self.topics)
        self.client_config = consumer_config(bootstrap, group_id=group_id, overrides=config)
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
                if is_record(msg):
                    self.handle_message(msg, handler)
        finally:
            self._consumer.close()

    def handle_message(self, msg: Message, handler: Handler) -> None:
        topic = msg.topic() or ""
        base = self.topics.base_of(topic)
        headers = received_headers(msg)
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
        """Dead-letter `msg`; `DeadLetterFailed` (uncommitted, so redelivered) when the broker did not ack it."""
        log.warning("dead-lettering %s[%s]@%s: %s", msg.topic(), msg.partition(), msg.offset(), reason)
        self.dead_letters.write(SourceRecord.of(msg), reason)

    def commit(self, msg: Message) -> None:
        commit_offset(self._consumer, msg.topic() or "", msg.partition() or 0, (msg.offset() or 0) + 1)
