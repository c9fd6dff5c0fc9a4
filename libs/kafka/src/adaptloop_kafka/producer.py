"""An idempotent JSON event producer that carries the current trace context."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from adaptloop_contracts import Event, TopicNames
from confluent_kafka import KafkaError, Message, Producer
from prometheus_client import Counter

from adaptloop_kafka.clients import BrokerTarget
from adaptloop_kafka.connection import KafkaConnection
from adaptloop_kafka.tracing import trace_headers

PUBLISHED = Counter("adaptloop_kafka_published_total", "Events acknowledged by the broker", ["topic"])
PUBLISH_FAILED = Counter("adaptloop_kafka_publish_failed_total", "Events the broker did not acknowledge", ["topic"])

DeliveryCallback = Callable[[KafkaError | None, Message], None]


class PublishError(RuntimeError):
    """The broker did not acknowledge a message."""


class EventProducer:
    """Publishes contract events by topic base name; `publish_sync` returns only after the ack."""

    def __init__(
        self,
        bootstrap: BrokerTarget,
        *,
        topics: TopicNames | None = None,
        client_id: str = "adaptloop",
        config: dict[str, Any] | None = None,
    ) -> None:
        self.topics = topics or TopicNames()
        defaults = {"client.id": client_id, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                    "message.timeout.ms": 30_000}
        self.client_config = KafkaConnection.of(bootstrap).client_config(defaults, overrides=config)
        self._producer = Producer(self.client_config)
        self._lock = threading.Lock()

    @property
    def raw(self) -> Producer:
        return self._producer

    def publish(
        self,
        topic_base: str,
        event: Event,
        *,
        key: str | None = None,
        headers: Sequence[tuple[str, bytes | None]] | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        """Queue one event; the key defaults to the event's model so one model's events stay in order."""
        self.produce_raw(
            self.topics(topic_base),
            event.to_json_bytes(),
            key=(key if key is not None else event.model).encode("utf-8"),
            headers=(headers if headers is not None else trace_headers()),
            on_delivery=on_delivery,
        )

    def produce_raw(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes | None]] | None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        def _delivered(err: KafkaError | None, msg: Message) -> None:
            (PUBLISH_FAILED if err else PUBLISHED).labels(topic).inc()
            if on_delivery is not None:
                on_delivery(err, msg)

        # A list of the type confluent-kafka's stubs name (a list is invariant: ours would not pass as theirs).
        wire: list[tuple[str, str | bytes | None]] | None = None if headers is None else list(headers)
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=wire, on_delivery=_delivered)
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def publish_sync(
        self,
        topic_base: str,
        event: Event,
        *,
        key: str | None = None,
        timeout_s: float = 30.0,
        headers: Sequence[tuple[str, bytes | None]] | None = None,
    ) -> None:
        errors: list[KafkaError] = []
        done = threading.Event()

        def _cb(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                errors.append(err)
            done.set()

        self.publish(topic_base, event, key=key, headers=headers, on_delivery=_cb)
        self.wait(done, timeout_s)
        if errors:
            raise PublishError(f"{topic_base}: {errors[0]}")

    def wait(self, done: threading.Event, timeout_s: float) -> None:
        """Serve delivery callbacks until `done` is set or the deadline passes."""
        import time

        deadline = time.monotonic() + timeout_s
        while not done.is_set():
            if time.monotonic() > deadline:
                raise PublishError(f"no broker acknowledgement within {timeout_s}s")
            self._producer.poll(0.05)

    def poll(self, timeout_s: float = 0.0) -> int:
        return self._producer.poll(timeout_s)

    def flush(self, timeout_s: float = 10.0) -> int:
        """Wait for outstanding messages; returns how many are still undelivered."""
        return self._producer.flush(timeout_s)
