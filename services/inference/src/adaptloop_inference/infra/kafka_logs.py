"""Publishes inference logs from a bounded queue on a background thread, never blocking a request.

A full queue drops the newest log and counts it; a log the broker does not acknowledge
within the delivery timeout is counted as dropped too. Nothing is lost without a count.
The producer is not idempotent on purpose: after a broker loses its state (a restart of an
in-memory broker, a cluster rebuilt) an idempotent producer fails fatally, while a log
delivered twice is harmless (consumers deduplicate on `event_id`). A producer that fails
anyway is replaced.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from adaptloop_contracts import InferenceLog
from adaptloop_contracts.inference import INFERENCE_LOGS
from adaptloop_kafka import EventProducer
from confluent_kafka import KafkaError, KafkaException, Message

from adaptloop_inference import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingLog:
    event: InferenceLog
    key: str
    headers: list[tuple[str, bytes]]


class KafkaLogPublisher:
    """`submit` from any thread or coroutine; a daemon thread redacts (`scrub`) and batches produce calls."""

    def __init__(self, producer_factory: Callable[[], EventProducer], *, queue_size: int, batch_size: int,
                 scrub: Callable[[InferenceLog], InferenceLog]) -> None:
        self._new_producer = producer_factory
        self._scrub = scrub
        self._producer = producer_factory()
        self._queue: queue.Queue[PendingLog] = queue.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inference-log-publisher", daemon=True)
        self._delivered = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def submit(self, event: InferenceLog, *, key: str, headers: list[tuple[str, bytes]]) -> bool:
        """Queue one log; False (and counted as dropped) when the queue is full."""
        try:
            self._queue.put_nowait(PendingLog(event, key, headers))
        except queue.Full:
            self._count_dropped("queue_full")
            return False
        metrics.LOG_QUEUE_DEPTH.set(self._queue.qsize())
        return True

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"delivered": self._delivered, "dropped": self._dropped, "queued": self._queue.qsize()}

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        remaining = self._producer.flush(timeout_s)
        if remaining:
            log.warning("%d inference logs undelivered at shutdown", remaining)

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            handed_over = 0
            try:
                for item in batch:
                    self._producer.publish(INFERENCE_LOGS, self._scrub(item.event), key=item.key, headers=item.headers,
                                           on_delivery=self._on_delivery)
                    handed_over += 1
                self._producer.poll(0 if batch else 0.05)
            except KafkaException as exc:
                lost = len(batch) - handed_over
                for _ in range(lost):
                    self._count_dropped("producer_failed")
                log.error("inference log producer failed (%s); %d logs dropped, starting a new producer", exc, lost)
                self._producer = self._new_producer()
            metrics.LOG_QUEUE_DEPTH.set(self._queue.qsize())

    def _next_batch(self) -> list[PendingLog]:
        try:
            batch = [self._queue.get(timeout=0.05)]
        except queue.Empty:
            return []
        while len(batch) < self._batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            with self._lock:
                self._delivered += 1
            metrics.LOGS_DELIVERED.inc()
        else:
            if self._count_dropped("delivery_failed") % 100 == 1:
                log.warning("inference log not delivered (%d dropped so far): %s", self._dropped, err)

    def _count_dropped(self, reason: str) -> int:
        with self._lock:
            self._dropped += 1
            dropped = self._dropped
        metrics.LOGS_DROPPED.labels(reason).inc()
        return dropped
