"""Kafka I/O: `training.events` out, and a `retrain.requested` consumer that commits late.

A request's offset is committed only once its job is in a recorded final state. While a
job runs, its partition is paused and the consumer keeps polling, so the group membership
survives jobs of any length; after the commit the partition is rewound to the next offset
and resumed. Invalid requests go to `retrain.requested.dlq` with the reason; their offset is
committed only once the dead letter is acknowledged. The client configuration, the end of
partition, the dead letters and the commit retries are the shared `adaptloop_kafka` plumbing;
what is left here is the late-commit discipline.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from adaptloop_contracts import InvalidEvent, RetrainRequested, TopicNames, TrainingEvent
from adaptloop_contracts.retrain import RETRAIN_REQUESTED
from adaptloop_contracts.training import TRAINING_EVENTS
from adaptloop_kafka import (
    BrokerTarget,
    DeadLetterFailed,
    DeadLetters,
    EventProducer,
    SourceRecord,
    commit_offset,
    consumer_config,
    is_record,
    trace_headers,
)
from adaptloop_kafka.tracing import headers_to_dict
from confluent_kafka import Consumer, Message, TopicPartition

log = logging.getLogger(__name__)

AcceptRequest = Callable[[RetrainRequested, str | None], uuid.UUID]
"""Records (or finds) the job of a request and queues it; returns the job id."""
JobIsFinal = Callable[[uuid.UUID], bool]


class KafkaTrainingEvents:
    """Publishes training events and manual retrain requests, waiting for the broker's ack."""

    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    def job_event(self, event: TrainingEvent) -> None:
        self._producer.publish_sync(TRAINING_EVENTS, event, headers=trace_headers())

    def retrain_requested(self, request: RetrainRequested) -> None:
        self._producer.publish_sync(RETRAIN_REQUESTED, request, headers=trace_headers())


class RetrainRequestConsumer:
    def __init__(self, bootstrap: BrokerTarget, *, group_id: str, topics: TopicNames, producer: EventProducer,
                 accept: AcceptRequest, job_is_final: JobIsFinal, check_every_s: float = 0.5) -> None:
        self._topic = topics(RETRAIN_REQUESTED)
        self._dead_letters = DeadLetters(producer, consumer=group_id, topics=topics)
        self._accept, self._job_is_final = accept, job_is_final
        self._check_every_s = check_every_s
        self.client_config = consumer_config(bootstrap, group_id=group_id)
        self._consumer = Consumer(self.client_config)
        self._waiting: dict[int, tuple[int, uuid.UUID]] = {}
        """partition -> (offset of the request being worked on, its job)."""
        self._stop = threading.Event()
        self.assigned = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        self._consumer.subscribe([self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        last_check = 0.0
        try:
            while not self._stop.is_set():
                self._on_message(self._consumer.poll(0.2))
                if time.monotonic() - last_check >= self._check_every_s:
                    last_check = time.monotonic()
                    self._release_finished()
        finally:
            self._consumer.close()

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned.set()

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._waiting.pop(tp.partition, None)

    def _on_message(self, msg: Message | None) -> None:
        if msg is None or not is_record(msg):
            return
        partition, offset = msg.partition() or 0, msg.offset() or 0
        if partition in self._waiting:
            return  # fetched before the pause took effect; read again after the rewind
        try:
            request = RetrainRequested.from_json_bytes(msg.value())
        except InvalidEvent as exc:
            if not self._dead_letter(msg, exc.reason):
                self._rewind(partition, offset)  # not lost: dead-lettered again on the next poll
                time.sleep(1.0)
                return
            self._commit(partition, offset + 1)
            return
        traceparent = headers_to_dict(msg.headers()).get("traceparent")
        try:
            job_id = self._accept(request, traceparent)
            final = self._job_is_final(job_id)
        except Exception:
            log.exception("request %s could not be recorded; retrying", request.event_id)
            self._rewind(partition, offset)
            time.sleep(1.0)
            return
        if final:
            self._commit(partition, offset + 1)
            return
        self._waiting[partition] = (offset, job_id)
        self._consumer.pause([TopicPartition(self._topic, partition)])

    def _release_finished(self) -> None:
        for partition, (offset, job_id) in list(self._waiting.items()):
            try:
                final = self._job_is_final(job_id)
            except Exception as exc:
                log.warning("job %s state unreadable: %s", job_id, exc)
                continue
            if final:
                self._commit(partition, offset + 1)
                del self._waiting[partition]
                self._rewind(partition, offset + 1)
                self._consumer.resume([TopicPartition(self._topic, partition)])

    def _rewind(self, partition: int, offset: int) -> None:
        try:
            self._consumer.seek(TopicPartition(self._topic, partition, offset))
        except Exception as exc:
            log.warning("seek %s[%d]@%d failed: %s", self._topic, partition, offset, exc)

    def _commit(self, partition: int, next_offset: int) -> None:
        commit_offset(self._consumer, self._topic, partition, next_offset)

    def _dead_letter(self, msg: Message, reason: str) -> bool:
        """Write the message to the dead-letter topic; False when the broker did not acknowledge it."""
        log.warning("dead-lettering %s[%s]@%s: %s", msg.topic(), msg.partition(), msg.offset(), reason)
        try:
            self._dead_letters.write(SourceRecord.of(msg), reason)
        except DeadLetterFailed as exc:
            log.error("%s; the request stays uncommitted", exc)
            return False
        return True
