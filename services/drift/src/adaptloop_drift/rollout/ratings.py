"""Ratings joined to the request they rate: which version served it, when, and its place in that version's traffic.

`inference.feedback` carries only the rated log's `event_id`. During a canary two versions serve
the same adapter at once, so a rating is attributed through the log it names, not through
whichever version served last. `ServedLogs` remembers the most recent logs of a partition;
`RatingQueue` hands ratings on in the order of the feedback topic, holding a rating (and those
behind it for the same adapter) until its log has been seen, so the order of the two topics'
messages on arrival does not change what the judge sees. It also keeps each input topic's event
time (the latest `occurred_at` read from it), which the judge uses as watermarks: the join gives up
on a log only once the logs topic itself has moved on past the rating, never because the feedback
topic was read ahead of it.
"""

from __future__ import annotations

import sys
import uuid
from array import array
from collections import OrderedDict, deque
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import msgspec
from adaptloop_contracts import InferenceFeedback, InferenceLog

_T = TypeVar("_T")
_encode = msgspec.json.encode


def _uuid_text(value: uuid.UUID) -> str:
    """`str(value)` (canonical, lower-case, hyphenated), by msgspec's encoder: a third of `UUID.__str__`'s time."""
    return _encode(value)[1:-1].decode()


def _pickled_as_fields(cls: type[_T]) -> type[_T]:
    """Pickle a slotted dataclass's state as the list of its field values, as frozen slotted dataclasses do.

    Frozen dataclasses set each field through `object.__setattr__`, which made building one ~1 µs
    (a rating's `RatedEvent`, a log's `ServedRequest`): nothing changes these records once built, so
    they are plain slotted dataclasses (compared and hashed by value) with the frozen ones' pickled
    state, and checkpoints written with either load with either.
    """
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    def __getstate__(self: Any) -> list[Any]:
        return [getattr(self, name) for name in names]

    def __setstate__(self: Any, state: list[Any]) -> None:
        for name, value in zip(names, state, strict=True):
            setattr(self, name, value)

    cls.__getstate__ = __getstate__  # type: ignore[method-assign,assignment]
    cls.__setstate__ = __setstate__  # type: ignore[attr-defined]
    return cls


@_pickled_as_fields
@dataclass(slots=True, unsafe_hash=True)
class ServedRequest:
    """One logged request: the version that served it, when, and its 1-based position among that version's logs."""

    version: int | None
    at: float
    ordinal: int


@_pickled_as_fields
@dataclass(slots=True, unsafe_hash=True)
class RatedEvent:
    """A rating attributed to the version that served the rated request."""

    feedback_id: str
    adapter: str
    version: int | None
    score: float
    served_at: float
    """`occurred_at` of the rated request's log (the rating's own time when the log was never seen)."""
    rated_at: float
    ordinal: int | None
    """Position of the rated request among its version's logs on this partition (None without its log)."""
    seq: int
    """Position of the rating in this partition's feedback order."""
    joined: bool


class ServedLogs:
    """The last `capacity` logs of one partition, by event id (oldest forgotten first)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._served: OrderedDict[int, ServedRequest] = OrderedDict()
        self._counts: dict[tuple[str, int | None], int] = {}

    def record(self, adapter: str, log: InferenceLog) -> ServedRequest:
        key = (adapter, log.adapter_version)
        ordinal = self._counts.get(key, 0) + 1
        self._counts[key] = ordinal
        served = ServedRequest(log.adapter_version, log.occurred_at.timestamp(), ordinal)
        self._served[log.event_id.int] = served
        while len(self._served) > self.capacity:
            self._served.popitem(last=False)
        return served

    def lookup(self, event_id: uuid.UUID) -> ServedRequest | None:
        return self._served.get(event_id.int)

    def __len__(self) -> int:
        return len(self._served)

    def __getstate__(self) -> dict[str, Any]:
        """The logs as columns, oldest first: ids, versions, times (`array('d')`) and ordinals (`array('q')`).

        The index is most of a partition's checkpoint, written every few seconds by the thread that
        handles events: pickling its `ServedRequest`s one by one took over twice the CPU of these columns.
        """
        state = dict(self.__dict__)
        requests = list(state.pop("_served").values())
        state["_served_columns"] = (list(self._served), [r.version for r in requests],
                                    array("d", [r.at for r in requests]), array("q", [r.ordinal for r in requests]))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Checkpoints written before the columns hold the plain `__dict__`, `_served` included.
        if "_served_columns" in state:
            state = dict(state)
            ids, versions, at, ordinals = state.pop("_served_columns")
            state["_served"] = OrderedDict(zip(ids, map(ServedRequest, versions, at, ordinals), strict=True))
        self.__dict__.update(state)


@_pickled_as_fields
@dataclass(slots=True, unsafe_hash=True)
class _Waiting:
    feedback_id: str
    log_id: uuid.UUID
    score: float
    rated_at: float
    declared: int | None
    seq: int


class RatingQueue:
    """Ratings of each adapter in feedback order, each released once its log is known.

    A rating whose log has not arrived once the logs topic's event time is `max_wait_s` past the
    rating (or when more than `max_pending` wait for one adapter, or, when the logs topic was read to
    its end, once the feedback topic's event time is that far past it: `expire`) is released with
    the version its producer declared in `metadata.adapter_version`, or none. The logs topic's time
    decides, not the feedback topic's: ratings read far ahead of their logs (a consumer that fetched
    one topic before the other) wait for them instead of being given up on.
    """

    log_clock = 0.0
    """Event time of the logs topic: the latest `occurred_at` of a log read (class default: older checkpoints)."""
    feedback_clock = 0.0
    """Event time of the feedback topic: the latest `occurred_at` of a rating read."""

    def __init__(self, served: ServedLogs, *, max_wait_s: float = 60.0, max_pending: int = 2_000) -> None:
        self.served = served
        self.max_wait_s = max_wait_s
        self.max_pending = max_pending
        self._waiting: dict[str, deque[_Waiting]] = {}
        self.log_clock = 0.0
        self.feedback_clock = 0.0
        self._seq = 0

    def on_log(self, adapter: str, log: InferenceLog) -> list[RatedEvent]:
        """Call after `ServedLogs.record`: releases ratings that waited for this log."""
        self.log_clock = max(self.log_clock, log.occurred_at.timestamp())
        return self._release(adapter) if adapter in self._waiting else []

    def on_feedback(self, adapter: str, feedback: InferenceFeedback) -> list[RatedEvent]:
        rated_at = feedback.occurred_at.timestamp()
        self.feedback_clock = max(self.feedback_clock, rated_at)
        self._seq += 1
        adapter = sys.intern(adapter)  # one string per adapter in memory and in the checkpoint
        if adapter not in self._waiting:
            # The usual case: nothing of the adapter waits and the rated log is known, so the rating is
            # released at once, as `_release` would release it (without queueing it first).
            hit = self.served.lookup(feedback.inference_event_id)
            if hit is not None:
                return [RatedEvent(_uuid_text(feedback.event_id), adapter, hit.version, feedback.score, hit.at,
                                   rated_at, hit.ordinal, self._seq, True)]
        declared = feedback.metadata.get("adapter_version")
        self._waiting.setdefault(adapter, deque()).append(_Waiting(
            _uuid_text(feedback.event_id), feedback.inference_event_id, feedback.score, rated_at,
            declared if isinstance(declared, int) and declared >= 1 else None, self._seq))
        return self._release(adapter)

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    def oldest_waiting(self, adapter: str) -> float | None:
        """`occurred_at` of the adapter's first rating still waiting for its log (None when none waits)."""
        queue = self._waiting.get(adapter)
        return queue[0].rated_at if queue else None

    def expire(self) -> list[RatedEvent]:
        """The logs topic was read to its end: give up on logs by the feedback topic's time instead."""
        out: list[RatedEvent] = []
        for adapter in list(self._waiting):
            out += self._release(adapter, self.feedback_clock)
        return out

    def _release(self, adapter: str, clock: float | None = None) -> list[RatedEvent]:
        queue = self._waiting.get(adapter)
        clock = self.log_clock if clock is None else clock
        out: list[RatedEvent] = []
        while queue:
            head = queue[0]
            hit = self.served.lookup(head.log_id)
            if hit is not None:
                out.append(RatedEvent(head.feedback_id, adapter, hit.version, head.score, hit.at, head.rated_at,
                                      hit.ordinal, head.seq, True))
            elif clock - head.rated_at > self.max_wait_s or len(queue) > self.max_pending:
                out.append(RatedEvent(head.feedback_id, adapter, head.declared, head.score, head.rated_at,
                                      head.rated_at, None, head.seq, False))
            else:
                break
            queue.popleft()
        if not queue:
            self._waiting.pop(adapter, None)
        return out
