"""Dropping an event delivered again: the same `event_id` (a re-sent outbox row, a redelivery after a rebalance).

Every consumer remembers the ids it applied in a bounded window, oldest out first. Where the window
lives depends on what the consumer's effect must survive: `SeenEvents` keeps it in memory (inference's
registry-events follower: a restarted replica re-syncs its serving plan anyway); `remember` updates a
window kept as a list inside state that is persisted with the effect (the drift policy's per-adapter
state in its faust table). Ingest and the trainer deduplicate in the database, in the same transaction
as the effect (a unique `event_id`), which no window can replace.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import TypeVar

Id = TypeVar("Id", bound=Hashable)


def remember(window: Sequence[Id], event_id: Id, limit: int) -> list[Id] | None:
    """The window with `event_id` appended (at most `limit` ids, oldest dropped); None when it is in it already."""
    if limit < 1:
        raise ValueError("a deduplication window holds at least one id")
    if event_id in window:
        return None
    return [*window[max(0, len(window) - (limit - 1)):], event_id]


class SeenEvents:
    """An in-memory window of the last `limit` event ids (not thread-safe: one consumer thread uses it)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a deduplication window holds at least one id")
        self.limit = limit
        self._ids: OrderedDict[Hashable, None] = OrderedDict()

    def first_delivery(self, event_id: Hashable) -> bool:
        """Remember `event_id`; False when it was seen before (a redelivery to drop)."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.limit:
            self._ids.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids
