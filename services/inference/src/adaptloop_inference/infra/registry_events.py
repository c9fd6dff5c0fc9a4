"""Follows `registry.events` on a background thread and hands each event to the event loop.

Every replica must see every event, so each uses a consumer group of its own and starts at
the latest offset: what happened before it started is covered by the serving-plan sync.
An event delivered again (the same `event_id`: a re-sent outbox row, a redelivery after a
rebalance) is dropped here, so it asks for no second sync. Malformed messages go to
`registry.events.dlq` with the reason. The loop, the dead letters, the commits and the
deduplication window are the shared `adaptloop_kafka` plumbing; this module is the declaration
and the handler.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from adaptloop_contracts import RegistryEvent, TopicNames
from adaptloop_contracts.registry import REGISTRY_EVENTS
from adaptloop_kafka import BrokerTarget, ConsumedEvent, ConsumerThread, EventConsumer, EventProducer, SeenEvents
from opentelemetry.context import Context

log = logging.getLogger(__name__)
SEEN_EVENTS = 4096
"""How many event ids the follower remembers to drop redeliveries."""


class RegistryEventFollower:
    def __init__(
        self, bootstrap: BrokerTarget, *, topics: TopicNames, replica_id: str, producer: EventProducer,
        loop: asyncio.AbstractEventLoop, on_event: Callable[[RegistryEvent, Context], None],
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """`config`: this consumer's own librdkafka options (e.g. `fetch.wait.max.ms`), over the defaults."""
        self._consumer = EventConsumer(
            bootstrap,
            group_id=f"inference-{replica_id}-{uuid.uuid4().hex[:8]}",
            topic_bases=[REGISTRY_EVENTS],
            producer=producer,
            topics=topics,
            config={"auto.offset.reset": "latest", **(config or {})},
        )
        self._loop = loop
        self._on_event = on_event
        self._seen = SeenEvents(SEEN_EVENTS)
        # Not restarted after a crash: the periodic sync keeps the replica converged without events.
        self._thread = ConsumerThread(lambda: self._consumer, self._handle, name="registry-events",
                                      restart_backoff_s=None)

    @property
    def subscribed(self) -> bool:
        return self._consumer.assigned.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._thread.stop(timeout_s)

    def _handle(self, consumed: ConsumedEvent) -> None:
        event = consumed.event
        if not isinstance(event, RegistryEvent):
            return
        if not self._seen.first_delivery(event.event_id):
            log.info("registry event %s (%s) delivered again at offset %d; dropped",
                     event.event_id, event.event_type, consumed.offset)
            return
        self._loop.call_soon_threadsafe(self._on_event, event, consumed.trace_context)
