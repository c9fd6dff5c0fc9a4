"""Kafka I/O: a bounded, acknowledged batch publisher and the example store's consumer thread.

The consumer itself is the shared `adaptloop_kafka` plumbing (`EventConsumer` declared in
`bootstrap.build_runtime`, run by `ConsumerThread`); its handler is `handlers.store_consumed_event`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence

from adaptloop_contracts import Event, adapter_of
from adaptloop_kafka import EventProducer, trace_headers
from adaptloop_kafka.consumer import Handler
from adaptloop_kafka.runner import ConsumerFactory
from adaptloop_kafka.runner import ConsumerThread as SharedConsumerThread
from confluent_kafka import KafkaError, Message
from prometheus_client import Counter, Gauge

from adaptloop_ingest.errors import NotAcknowledged, QueueFull

log = logging.getLogger(__name__)

IN_FLIGHT = Gauge("adaptloop_ingest_producer_in_flight", "Events handed to the producer, not yet acknowledged")
IN_FLIGHT_BYTES = Gauge(
    "adaptloop_ingest_producer_in_flight_bytes", "Bytes handed to the producer, not yet acknowledged"
)
QUEUE_FULL = Counter("adaptloop_ingest_queue_full_total", "Requests refused because the producer queue was full")
CONSUMER_RESTARTS = Counter("adaptloop_ingest_consumer_restarts_total", "Example-store consumer loops that crashed")


class BatchPublisher:
    """Publishes a batch and returns once the broker acknowledged every event of it.

    At most `max_messages` events (and `max_bytes` bytes) wait for acknowledgement at any
    time, across all requests; a batch that does not fit is refused whole with `QueueFull`
    instead of growing memory. Events are keyed by adapter name so one adapter stays ordered.
    """

    def __init__(self, producer: EventProducer, *, max_messages: int, max_bytes: int, timeout_s: float) -> None:
        self._producer = producer
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._messages = 0
        self._bytes = 0
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._serve_callbacks, name="ingest-producer-poll", daemon=True)

    @property
    def in_flight(self) -> int:
        return self._messages

    def start(self) -> None:
        self._poller.start()

    def close(self, timeout_s: float = 10.0) -> int:
        """Stop serving callbacks, flush and close; returns how many events were still undelivered."""
        self._stop.set()
        if self._poller.is_alive():
            self._poller.join(timeout_s)
        undelivered: int = self._producer.flush(timeout_s)
        self._producer.raw.close()
        return undelivered

    def _serve_callbacks(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def _reserve(self, messages: int, size: int) -> None:
        with self._lock:
            if self._messages + messages > self._max_messages or self._bytes + size > self._max_bytes:
                QUEUE_FULL.inc()
                raise QueueFull(
                    f"producer queue full ({self._messages} events, {self._bytes} bytes awaiting acknowledgement)"
                )
            self._messages += messages
            self._bytes += size
            IN_FLIGHT.set(self._messages)
            IN_FLIGHT_BYTES.set(self._bytes)

    def _release(self, messages: int, size: int) -> None:
        with self._lock:
            self._messages -= messages
            self._bytes -= size
            IN_FLIGHT.set(self._messages)
            IN_FLIGHT_BYTES.set(self._bytes)

    async def publish(self, topic_base: str, events: Sequence[Event]) -> None:
        """Raise `QueueFull` before sending anything, or `NotAcknowledged` when an ack is missing or failed."""
        payloads = [event.to_json_bytes() for event in events]
        self._reserve(len(payloads), sum(len(p) for p in payloads))
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        state = _BatchState(len(payloads))

        def _resolve() -> None:
            if not done.done():
                done.set_result(None)

        def _on_delivery(err: KafkaError | None, msg: Message) -> None:
            self._release(1, len(msg.value() or b""))
            if state.delivered(err):
                with contextlib.suppress(RuntimeError):  # the request's loop is gone; nobody waits any more
                    loop.call_soon_threadsafe(_resolve)

        topic = self._producer.topics(topic_base)
        headers = trace_headers()
        for index, (event, payload) in enumerate(zip(events, payloads, strict=True)):
            try:
                self._producer.produce_raw(
                    topic, payload, key=adapter_of(event.model).encode("utf-8"), headers=headers,
                    on_delivery=_on_delivery,
                )
            except Exception as exc:
                unsent = payloads[index:]
                self._release(len(unsent), sum(len(p) for p in unsent))
                raise NotAcknowledged(f"could not hand events to the producer: {exc}") from exc
        try:
            await asyncio.wait_for(asyncio.shield(done), self._timeout_s)
        except TimeoutError as exc:
            raise NotAcknowledged(f"the broker did not acknowledge within {self._timeout_s}s") from exc
        if state.errors:
            raise NotAcknowledged(f"the broker refused {len(state.errors)} events: {state.errors[0]}")


class _BatchState:
    """Counts the acknowledgements of one batch; callbacks arrive on the poller thread."""

    def __init__(self, expected: int) -> None:
        self._lock = threading.Lock()
        self._remaining = expected
        self.errors: list[KafkaError] = []

    def delivered(self, err: KafkaError | None) -> bool:
        with self._lock:
            if err is not None:
                self.errors.append(err)
            self._remaining -= 1
            return self._remaining == 0


class ConsumerThread(SharedConsumerThread):
    """The example store's consumer loop (the shared one): a crash is logged, counted and restarted."""

    def __init__(
        self, make_consumer: ConsumerFactory, handler: Handler, *, restart_backoff_s: float = 1.0
    ) -> None:
        super().__init__(make_consumer, handler, name="ingest-example-consumer", restart_backoff_s=restart_backoff_s,
                         on_crash=CONSUMER_RESTARTS.inc)
