"""Inference's registry-events follower through the real broker: poison to the DLQ, redeliveries dropped."""

from __future__ import annotations

import asyncio
import time
import uuid

from adaptloop_contracts import RegistryEvent, TopicNames
from adaptloop_devstack.topic_reader import read_from_start
from adaptloop_inference.infra.registry_events import RegistryEventFollower
from adaptloop_kafka import EventProducer
from opentelemetry.context import Context


def _moved(version: int) -> RegistryEvent:
    return RegistryEvent(event_type="adapter.alias_moved", model="support", alias="production", version=version,
                         actor="tests")


async def _until(predicate, what: str, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_poison_is_dead_lettered_and_a_redelivered_event_asks_for_one_sync(
    kafka_bootstrap: str, topics: TopicNames,
) -> None:
    producer = EventProducer(kafka_bootstrap, topics=topics)
    seen: list[RegistryEvent] = []

    def on_event(event: RegistryEvent, _context: Context) -> None:
        seen.append(event)

    follower = RegistryEventFollower(kafka_bootstrap, topics=topics, replica_id="t", producer=producer,
                                     loop=asyncio.get_running_loop(), on_event=on_event)
    follower.start()
    try:
        await _until(lambda: follower.subscribed, "the follower's assignment")
        # It starts at the latest offset: announce until one arrives, so the test's events are not skipped.
        warm_ups: set[uuid.UUID] = set()
        deadline = time.monotonic() + 30
        while not seen:
            assert time.monotonic() < deadline, "no announcement reached the follower"
            warm_up = _moved(1)
            warm_ups.add(warm_up.event_id)
            producer.publish_sync("registry.events", warm_up)
            await asyncio.sleep(0.5)

        topic = topics("registry.events")
        again = _moved(2)
        marker = _moved(3)
        producer.produce_raw(topic, b'{"event_type": "adapter.alias_moved", "model": "support"', key=b"support",
                             headers=None)
        for event in (again, again, marker):
            producer.produce_raw(topic, event.to_json_bytes(), key=b"support", headers=None)
        assert producer.flush(10) == 0
        await _until(lambda: any(e.event_id == marker.event_id for e in seen), "the marker behind the poison")
        assert [e.event_id for e in seen if e.event_id not in warm_ups] == [again.event_id, marker.event_id]
    finally:
        await asyncio.to_thread(follower.stop)
    dead = read_from_start(kafka_bootstrap, topics.dlq("registry.events"), want=1)
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers()}
    assert headers["adaptloop-dlq-source-topic"] == topic and "not JSON" in headers["adaptloop-dlq-error"]
