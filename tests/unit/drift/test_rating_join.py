"""Ratings joined to the request they rate: attribution during a canary, order, waiting and giving up."""

from __future__ import annotations

import uuid
from datetime import timedelta

from adaptloop_contracts import InferenceFeedback
from adaptloop_drift.monitor import AdapterMonitors, MonitorConfig
from adaptloop_drift.rollout.ratings import RatingQueue, ServedLogs
from rollout_streams import T0, Traffic


def rating(log_id: uuid.UUID, n: int, score: float = 0.5, version: int | None = None) -> InferenceFeedback:
    return InferenceFeedback(event_id=uuid.UUID(int=n), occurred_at=T0 + timedelta(seconds=n), model="shop",
                             inference_event_id=log_id, score=score,
                             metadata={} if version is None else {"adapter_version": version})


def test_detectors_attribute_a_rating_to_the_version_that_served_it() -> None:
    t = Traffic("shop")
    canary = t.serve(2, 0.0, rated=False)
    t.serve(1, 0.0, rated=False)  # production served last
    monitors = AdapterMonitors(MonitorConfig())
    for log in t.events:
        monitors.observe_log("shop", log)  # type: ignore[arg-type]
    monitors.observe_feedback("shop", rating(canary.event_id, 10))
    ratings = {s["adapter_version"]: s["ratings"] for s in monitors.snapshot()}
    assert ratings == {1: 0, 2: 1}


def test_a_rating_waits_for_its_log_and_keeps_the_feedback_order() -> None:
    t = Traffic("shop")
    first, second = t.serve(1, 0.0, rated=False), t.serve(2, 0.0, rated=False)
    served = ServedLogs()
    queue = RatingQueue(served, max_wait_s=60)
    assert queue.on_feedback("shop", rating(first.event_id, 3)) == []
    served.record("shop", second)
    assert queue.on_feedback("shop", rating(second.event_id, 4)) == []  # its log is known, but it queues behind
    assert queue.waiting == 2
    served.record("shop", first)
    released = queue.on_log("shop", first)
    assert [(r.version, r.ordinal, r.seq, r.joined) for r in released] == [(1, 1, 1, True), (2, 1, 2, True)]
    assert released[0].served_at == first.occurred_at.timestamp() and queue.waiting == 0


def test_a_rating_whose_log_never_comes_is_released_after_the_wait() -> None:
    served = ServedLogs()
    queue = RatingQueue(served, max_wait_s=30)
    assert queue.on_feedback("shop", rating(uuid.uuid4(), 1, version=3)) == []
    assert queue.on_feedback("shop", rating(uuid.uuid4(), 20)) == []
    # The feedback topic read 39 s ahead of the logs is no reason to give up: the logs may still come.
    assert queue.on_feedback("shop", rating(uuid.uuid4(), 40)) == [] and queue.waiting == 3
    t = Traffic("shop")
    t.clock = 39  # the logs topic's event time moves 39 s past the first rating
    late = t.serve(1, 0.0, rated=False)
    served.record("shop", late)
    released = queue.on_log("shop", late)
    assert [(r.version, r.joined) for r in released] == [(3, False)]
    assert queue.waiting == 2


def test_with_the_logs_read_to_their_end_ratings_give_up_by_the_feedback_time() -> None:
    queue = RatingQueue(ServedLogs(), max_wait_s=30)
    for n in (1, 20, 40):
        assert queue.on_feedback("shop", rating(uuid.uuid4(), n, version=2)) == []
    assert [(r.version, r.joined) for r in queue.expire()] == [(2, False)] and queue.waiting == 2


def test_served_logs_forget_the_oldest_beyond_capacity() -> None:
    t = Traffic("shop")
    logs = [t.serve(1, 0.0, rated=False) for _ in range(5)]
    served = ServedLogs(capacity=3)
    for log in logs:
        served.record("shop", log)
    assert served.lookup(logs[0].event_id) is None and len(served) == 3
    hit = served.lookup(logs[4].event_id)
    assert hit is not None and hit.ordinal == 5
