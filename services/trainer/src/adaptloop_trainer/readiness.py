"""Data readiness: a drift retrain waits for enough examples of the new traffic before it snapshots.

Drift is detected after a few dozen events, when only a handful of corrected examples of the new
traffic exist; a retrain on them learns little. With `window.min_new_examples` set, a
drift-triggered job (incremental or full) first waits until that many usable examples (with a target)
arrived since the drift began, or `window.max_wait_s` passed, and then fixes the end of its
window at that moment, recorded on the job so that a resumed job reads the same examples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from adaptloop_trainer.errors import JobCancelled
from adaptloop_trainer.ports import ExampleSource
from adaptloop_trainer.snapshot import row_pair

WaitFn = Callable[[int, int], None]
"""(usable examples since the drift began, examples wanted), after each count."""
POLL_S = 2.0


@dataclass(frozen=True)
class Readiness:
    """When the window closed, how many new examples it had then, and how long the job waited."""

    until: datetime
    new_examples: int
    wanted: int
    waited_s: float
    timed_out: bool

    def as_json(self) -> dict[str, object]:
        return {"until": self.until.isoformat(), "new_examples": self.new_examples, "wanted": self.wanted,
                "waited_s": round(self.waited_s, 3), "timed_out": self.timed_out}


def count_usable(examples: ExampleSource, adapter: str, *, since: datetime, until: datetime) -> int:
    """Examples with a prompt and a target (what a window keeps) in `[since, until)`."""
    return sum(1 for row in examples.export(adapter, since=since, until=until) if row_pair(row) is not None)


def wait_for_new_examples(
    *,
    examples: ExampleSource,
    adapter: str,
    drift_started_at: datetime,
    wanted: int,
    max_wait_s: float,
    should_stop: Callable[[], bool],
    on_wait: WaitFn | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
    poll_s: float = POLL_S,
) -> Readiness:
    """Count the examples since the drift began until `wanted` arrived or `max_wait_s` passed."""
    started = monotonic()
    while True:
        until = now()
        count = count_usable(examples, adapter, since=drift_started_at, until=until)
        if on_wait is not None:
            on_wait(count, wanted)
        waited = monotonic() - started
        if count >= wanted or waited >= max_wait_s:
            return Readiness(until, count, wanted, waited, timed_out=count < wanted)
        if should_stop():
            raise JobCancelled(f"cancelled while waiting for examples ({count} of {wanted} since the drift began)")
        pause(min(poll_s, max(0.0, max_wait_s - waited)))
