"""Checks the offsets the signal consumer keeps in its own checkpoints against the broker's log.

Checkpoints live on local disk, outside the broker, so they can outlive the log they point into:
a broker that lost its data, a topic deleted and created again, a cluster restored from an older
backup. A next offset beyond the end of its partition means the log was replaced, and so does a
message delivered below the offset already read: the partition's state describes events that no
longer exist. A partition with lag whose position does not move is reported as stalled.

The end of a partition is the high watermark of the consumer's own fetch responses: a broker's
answer to an offset query is not needed, and fetches are what the consumer waits on anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

BEYOND_END = "beyond_end"
"""The next offset to read lies past the partition's end: the log was replaced."""
REWOUND = "rewound"
"""The broker delivered an offset below the next one to read: the log was replaced (or reset)."""
BEFORE_START = "before_start"
"""The next offset to read was deleted (retention): events were lost, the state is still this log's."""


def out_of_range(next_offset: int, low: int, high: int) -> str | None:
    """`BEYOND_END`, `BEFORE_START` or None (in range, or the watermarks are not known yet)."""
    if high >= 0 and next_offset > high:
        return BEYOND_END
    if low >= 0 and next_offset < low:
        return BEFORE_START
    return None


@dataclass
class _Progress:
    next_offset: int
    since: float


@dataclass(frozen=True)
class Stall:
    topic: str
    partition: int
    next_offset: int
    high: int
    seconds: float

    def __str__(self) -> str:
        return (f"{self.topic}[{self.partition}] at offset {self.next_offset} of {self.high} "
                f"(lag {self.high - self.next_offset}) for {self.seconds:.0f} s")


class ProgressWatch:
    """Remembers since when each topic-partition's next offset has not moved while it had lag."""

    def __init__(self, stall_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_after_s = stall_after_s
        self._clock = clock
        self._progress: dict[tuple[str, int], _Progress] = {}
        self._stalls: list[Stall] = []

    def observe(self, positions: dict[tuple[str, int], tuple[int, int]]) -> list[Stall]:
        """Record `(topic, partition) -> (next offset, high watermark)` of every assigned partition."""
        now = self._clock()
        seen: dict[tuple[str, int], _Progress] = {}
        stalls: list[Stall] = []
        for key, (next_offset, high) in positions.items():
            before = self._progress.get(key)
            moved = before is None or before.next_offset != next_offset or high <= next_offset
            seen[key] = _Progress(next_offset, now) if moved or before is None else before
            waited = now - seen[key].since
            if high > next_offset and waited >= self.stall_after_s:
                stalls.append(Stall(key[0], key[1], next_offset, high, waited))
        self._progress = seen
        self._stalls = stalls
        return stalls

    def forget(self, partition: int) -> None:
        self._progress = {k: v for k, v in self._progress.items() if k[1] != partition}
        self._stalls = [s for s in self._stalls if s.partition != partition]

    @property
    def stalls(self) -> list[Stall]:
        return list(self._stalls)
