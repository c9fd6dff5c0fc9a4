"""The bounded publisher: answers only after every acknowledgement, refuses beyond its bound."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from adaptloop_contracts import InferenceFeedback, TopicNames
from adaptloop_ingest.errors import NotAcknowledged, QueueFull
from adaptloop_ingest.infra.kafka import BatchPublisher


class _Msg:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def value(self) -> bytes:
        return self._value


class FakeProducer:
    """Holds deliveries until the test acknowledges them."""

    def __init__(self) -> None:
        self.topics = TopicNames("p.")
        self.pending: list[tuple[bytes, bytes | None, Callable[[Any, Any], None]]] = []

    def produce_raw(self, topic: str, value: bytes, *, key: bytes | None, headers: Any,
                    on_delivery: Callable[[Any, Any], None]) -> None:
        assert topic == "p.inference.feedback"
        self.pending.append((value, key, on_delivery))

    def ack_all(self, error: object | None = None) -> None:
        while self.pending:
            value, _, callback = self.pending.pop(0)
            callback(error, _Msg(value))

    def poll(self, timeout: float = 0) -> int:
        return 0


def _events(n: int) -> list[InferenceFeedback]:
    import uuid

    return [InferenceFeedback(model="support:canary", inference_event_id=uuid.uuid4(), score=1) for _ in range(n)]


async def _until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_returns_after_every_ack_and_refuses_what_does_not_fit() -> None:
    producer = FakeProducer()
    publisher = BatchPublisher(producer, max_messages=3, max_bytes=10**6, timeout_s=5)  # type: ignore[arg-type]

    first = asyncio.create_task(publisher.publish("inference.feedback", _events(2)))
    await _until(lambda: len(producer.pending) == 2)
    assert not first.done()
    with pytest.raises(QueueFull):
        await publisher.publish("inference.feedback", _events(2))
    assert {key for _, key, _ in producer.pending} == {b"support"}

    producer.ack_all()
    await first
    assert publisher.in_flight == 0


async def test_byte_bound() -> None:
    publisher = BatchPublisher(FakeProducer(), max_messages=100, max_bytes=100, timeout_s=5)  # type: ignore[arg-type]
    with pytest.raises(QueueFull):
        await publisher.publish("inference.feedback", _events(1))


async def test_a_refused_or_missing_ack_is_not_acknowledged() -> None:
    producer = FakeProducer()
    publisher = BatchPublisher(producer, max_messages=10, max_bytes=10**6, timeout_s=0.2)  # type: ignore[arg-type]

    with pytest.raises(NotAcknowledged, match="did not acknowledge"):
        await publisher.publish("inference.feedback", _events(1))
    assert publisher.in_flight == 1  # still held by the producer until it gives up
    producer.ack_all()

    task = asyncio.create_task(publisher.publish("inference.feedback", _events(1)))
    await _until(lambda: len(producer.pending) == 1)
    producer.ack_all(error="broker said no")
    with pytest.raises(NotAcknowledged, match="refused"):
        await task
    assert publisher.in_flight == 0
