"""Retention: how long each table that grows with traffic keeps a row, and the sweep that enforces it.

- `examples`: `example_ttl_days` after the example was stored, or the adapter's own value in
  `example_ttl_days_by_adapter` (`null` there keeps that adapter's examples forever);
- `pending_feedback`: ratings whose log never arrived, `pending_feedback_ttl_days` after receipt;
- `seen_events`: the de-duplication memory, `seen_events_ttl_days` after an event was first seen
  (keep it longer than the topics' retention, or a replayed rating would count twice).

The service runs the sweep itself every `retention_interval_s`, in batches, so no lock is held long.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from adaptloop_ingest.metrics import EXPIRED
from adaptloop_ingest.ports import RetentionStore

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class RetentionPolicy:
    example_ttl: timedelta | None
    pending_feedback_ttl: timedelta
    seen_events_ttl: timedelta
    example_ttl_by_adapter: Mapping[str, timedelta | None] = field(default_factory=dict)

    @classmethod
    def from_days(cls, *, examples: float | None, pending_feedback: float, seen_events: float,
                  examples_by_adapter: Mapping[str, float | None]) -> RetentionPolicy:
        def days(value: float | None) -> timedelta | None:
            return None if value is None else timedelta(days=value)

        return cls(days(examples), timedelta(days=pending_feedback), timedelta(days=seen_events),
                   {adapter: days(value) for adapter, value in examples_by_adapter.items()})


def sweep(policy: RetentionPolicy, store: RetentionStore) -> dict[str, int]:
    """Delete every row past its TTL; returns how many per table."""
    removed = {"examples": 0}
    overridden = sorted(policy.example_ttl_by_adapter)
    for adapter in overridden:
        ttl = policy.example_ttl_by_adapter[adapter]
        if ttl is not None:
            removed["examples"] += store.expire_examples(ttl, adapters=[adapter], exclude=[])
    if policy.example_ttl is not None:
        removed["examples"] += store.expire_examples(policy.example_ttl, adapters=None, exclude=overridden)
    removed["pending_feedback"] = store.expire_pending_feedback(policy.pending_feedback_ttl)
    removed["seen_events"] = store.expire_seen_events(policy.seen_events_ttl)
    for table, count in removed.items():
        EXPIRED.labels(table).inc(count)
    return removed


class RetentionSweeper:
    """Runs `sweep` at start and then every `interval_s` on a daemon thread; a failed sweep is retried next time."""

    def __init__(self, policy: RetentionPolicy, store: RetentionStore, *, interval_s: float) -> None:
        self._policy, self._store, self._interval_s = policy, store, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-retention", daemon=True)
        self.sweeps = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                removed = sweep(self._policy, self._store)
                if any(removed.values()):
                    log.info("retention sweep removed %s", removed)
            except Exception:
                log.exception("retention sweep failed; trying again in %.0fs", self._interval_s)
            self.sweeps += 1
            self._stop.wait(self._interval_s)
