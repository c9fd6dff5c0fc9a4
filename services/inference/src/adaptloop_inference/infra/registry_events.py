"""Follows `registry.events` on a background thread and hands each event to the event loop.

Every replica must see every event, so each uses a consumer group of its own and starts at
the latest offset: what happened before it started is covered by the serving-plan sync.
An event delivered again (the same `event_id`: a re-sent outbox row, a redelivery after a
rebalance) is dropped here, so it asks for no second sync. Malformed messages go to
`registry.events.dlq` with the reason (the shared `EventConsumer`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable

from adaptloop_contracts import RegistryEvent, TopicNames
from adaptloop_contracts.registry import REGISTRY_EVENTS
from adaptloop_kafka import ConsumedEvent, EventConsumer, EventProducer
from opentelemetry.context import Context

log = logging.getLogger(__name__)
SEEN_EVENTS = 4096
"""How many event ids the follower remembers to drop redeliveries."""


class RegistryEventFollower:
    def __init__(
        self, bootstrap: str, *, topics: TopicNames, replica_id: str, producer: EventProducer,
        loop: asyncio.AbstractEventLoop, on_event: Callable[[RegistryEvent, Context], None],
    ) -> None:
        self._consumer = EventConsumer(
            bootstrap,
            group_id=f"inference-{replica_id}-{uuid.uuid4().hex[:8]}",
            topic_bases=[REGISTRY_EVENTS],
            producer=producer,
            topics=topics,
            config={"auto.offset.reset": "latest"},
        )
        self._loop = loop
        self._on_event = on_event
        self._seen: OrderedDict[uuid.UUID, None] = OrderedDict()
        self._thread = threading.Thread(target=self._run, name="registry-events", daemon=True)

    @property
    def subscribed(self) -> bool:
        return self._consumer.assigned.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._consumer.stop()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            self._consumer.run(self._handle)
        except Exception:  # the periodic sync keeps the replica converged without events
            log.exception("registry event follower stopped; relying on periodic sync")

    def _handle(self, consumed: ConsumedEvent) -> None:
        event = consumed.event
        if not isinstance(event, RegistryEvent):
            return
        if event.event_id in self._seen:
            log.info("registry event %s (%s) delivered again at offset %d; dropped",
                     event.event_id, event.event_type, consumed.offset)
            return
        self._seen[event.event_id] = None
        if len(self._seen) > SEEN_EVENTS:
            self._seen.popitem(last=False)
        self._loop.call_soon_threadsafe(self._on_event, event, consumed.trace_context)
