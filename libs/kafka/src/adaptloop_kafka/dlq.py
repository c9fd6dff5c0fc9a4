"""Dead-letter records: where an invalid message goes, with what went wrong.

`DeadLetters` is the one writer every consumer uses (the `EventConsumer`, the trainer's retrain
consumer, the drift service's faust agent): the record goes to `TopicNames.dlq()` of its source
topic with its key, value and headers, plus the source coordinates, the reason and the consumer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from adaptloop_contracts import TopicNames
from adaptloop_contracts.topics import DLQ_SUFFIX
from confluent_kafka import KafkaError, Message
from prometheus_client import Counter

from adaptloop_kafka.producer import EventProducer, PublishError
from adaptloop_kafka.tracing import ReceivedHeaders, received_headers

DLQ_HEADERS = (
    "adaptloop-dlq-source-topic",
    "adaptloop-dlq-source-partition",
    "adaptloop-dlq-source-offset",
    "adaptloop-dlq-error",
    "adaptloop-dlq-consumer",
)
MAX_REASON_CHARS = 4000
DLQ_ACK_TIMEOUT_S = 30.0

DEAD_LETTERED = Counter("adaptloop_kafka_dead_lettered_total", "Messages sent to a dead-letter topic", ["topic"])


class DeadLetterFailed(RuntimeError):
    """The broker did not acknowledge a dead letter: the source offset must stay uncommitted."""


def dead_letter_headers(
    *, topic: str, partition: int, offset: int, reason: str, consumer: str
) -> list[tuple[str, bytes]]:
    values = (topic, str(partition), str(offset), reason[:MAX_REASON_CHARS], consumer)
    return [(k, v.encode("utf-8")) for k, v in zip(DLQ_HEADERS, values, strict=True)]


@dataclass(frozen=True)
class SourceRecord:
    """The consumed message a dead letter copies: librdkafka's `Message` or a faust message alike."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: ReceivedHeaders

    @classmethod
    def of(cls, msg: Message) -> SourceRecord:
        return cls(msg.topic() or "", msg.partition() or 0, msg.offset() or 0, msg.key(), msg.value(),
                   received_headers(msg))


class DeadLetters:
    """Writes dead letters for one consumer (`consumer` is recorded in the headers) and waits for the ack."""

    def __init__(self, producer: EventProducer, *, consumer: str, topics: TopicNames | None = None,
                 timeout_s: float = DLQ_ACK_TIMEOUT_S) -> None:
        self._producer = producer
        self.consumer = consumer
        self.topics = topics or producer.topics
        self._timeout_s = timeout_s

    def topic_for(self, source_topic: str) -> str:
        """`TopicNames.dlq()` of a contract topic; `<topic>.dlq` for a service's internal topic."""
        try:
            return self.topics.dlq(self.topics.base_of(source_topic))
        except KeyError:
            return source_topic + DLQ_SUFFIX

    def write(self, record: SourceRecord, reason: str) -> None:
        """Send `record` to its dead-letter topic; `DeadLetterFailed` when the broker did not acknowledge it."""
        headers = record.headers + dead_letter_headers(
            topic=record.topic, partition=record.partition, offset=record.offset, reason=reason,
            consumer=self.consumer)
        done = threading.Event()
        failures: list[object] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(err)
            done.set()

        self._producer.produce_raw(self.topic_for(record.topic), record.value, key=record.key, headers=headers,
                                   on_delivery=delivered)
        try:
            self._producer.wait(done, self._timeout_s)
        except PublishError as exc:
            failures.append(exc)
        if failures:
            raise DeadLetterFailed(f"dead-letter write for {record.topic}[{record.partition}]@{record.offset} "
                                   f"failed: {failures[0]}")
        DEAD_LETTERED.labels(record.topic).inc()
