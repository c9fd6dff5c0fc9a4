"""The loop's timeline, read back from the Kafka topics after the run."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adaptloop_kafka import new_consumer
from confluent_kafka import TopicPartition

from adaptloop_demo.traffic import Served

TIMELINE_TOPICS = ("drift.detected", "retrain.requested", "training.events", "registry.events")


def read_topics(
    bootstrap: str, topics: tuple[str, ...] = TIMELINE_TOPICS, *, prefix: str = "", idle_s: float = 2.0
) -> dict[str, list[dict[str, Any]]]:
    """Every event on the given topics, oldest first (partitions assigned directly, no group)."""
    consumer = new_consumer(bootstrap, {"group.id": "adaptloop-demo-timeline", "enable.auto.commit": False})
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in topics}
    try:
        meta = consumer.list_topics(timeout=10)
        assignment = [TopicPartition(prefix + t, p, 0) for t in topics for p in meta.topics[prefix + t].partitions]
        consumer.assign(assignment)
        last = time.monotonic()
        while time.monotonic() - last < idle_s:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            last = time.monotonic()
            try:
                out[msg.topic()[len(prefix) :]].append(json.loads(msg.value()))
            except (ValueError, TypeError):
                continue
    finally:
        consumer.close()
    for events in out.values():
        events.sort(key=lambda e: e.get("occurred_at", ""))
    return out


def ts(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class Milestone:
    name: str
    at: float
    detail: str


def milestones(
    events: dict[str, list[dict[str, Any]]],
    *,
    shift_at: float,
    first_new_at: float | None,
    new_version: str | None,
    adapter: str,
) -> list[Milestone]:
    """The adapter's loop steps after the shift, in order."""

    def after(event: dict[str, Any]) -> bool:
        return event.get("model") == adapter and ts(event) >= shift_at

    out = [Milestone("traffic shifts", shift_at, "capital markets -> security operations")]
    drift = [e for e in events["drift.detected"] if after(e)]
    if drift:
        first = drift[0]
        out.append(
            Milestone(
                "drift detected",
                ts(first),
                f"{first['signal']} by {first['detector']} after {first['observations']} events",
            )
        )
    retrain = [e for e in events["retrain.requested"] if after(e) and e.get("reason") == "drift"]
    if retrain:
        out.append(Milestone("retrain requested", ts(retrain[0]), f"reason {retrain[0]['reason']}"))
    jobs = [e for e in events["training.events"] if after(e)]
    for state, label in (("running", "training started"), ("succeeded", "training finished")):
        hit = [e for e in jobs if e.get("state") == state]
        if hit:
            out.append(Milestone(label, ts(hit[0]), f"job {hit[0]['job_id'][:8]}"))
    registered = [e for e in events["registry.events"] if after(e) and e["event_type"] == "adapter.version_registered"]
    if registered:
        out.append(Milestone("version registered", ts(registered[0]), f"v{registered[0].get('version')}"))
    moved = [
        e
        for e in events["registry.events"]
        if after(e) and e["event_type"] == "adapter.alias_moved" and e.get("alias") == "production"
    ]
    if moved:
        out.append(
            Milestone(
                "promoted to production",
                ts(moved[0]),
                f"v{moved[0].get('previous_version')} -> v{moved[0].get('version')}",
            )
        )
    if first_new_at is not None:
        out.append(Milestone("first request on the new version", first_new_at, f"v{new_version}"))
    return sorted(out, key=lambda m: m.at)


def events_between(served: list[Served], start: float, end: float) -> int:
    return sum(1 for s in served if start <= s.at < end)
