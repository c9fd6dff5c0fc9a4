"""The rollout judge inside the drift service, through the real broker: killed mid-trial, same verdict once.

No registry token is configured, so verdicts are made and reported (`observed`) but not sent: the
registry's side is covered by the end-to-end tests.
"""

from __future__ import annotations

import signal
from typing import Any

import httpx
from adaptloop_contracts import InferenceFeedback, InferenceLog, RegistryEvent
from adaptloop_devstack.waiting import wait_for
from adaptloop_drift.offline import run
from adaptloop_drift.synthetic import RatedTraffic
from adaptloop_kafka import EventProducer
from drift_testkit import DriftProcess


def _publish(producer: EventProducer, events: list) -> None:  # type: ignore[type-arg]
    """Topic by topic: the alias moves, then the ratings, then their logs, so the service tends to read
    each burst in the order that is hardest for it (moves before the ratings of their time, ratings
    before their logs); its verdict must not depend on that order."""
    for topic, kind in (("registry.events", RegistryEvent), ("inference.feedback", InferenceFeedback),
                        ("inference.logs", InferenceLog)):
        for e in events:
            if isinstance(e, kind):
                producer.publish(topic, e, key=e.model)
        assert producer.flush(30.0) == 0


def _rollout(service: DriftProcess, adapter: str) -> dict[str, Any] | None:
    resp = httpx.get(f"{service.url}/v1/adapters/{adapter}/state", timeout=5)
    return resp.json()["rollout"] if resp.status_code == 200 else None


def test_killed_mid_guard_the_service_reaches_the_same_verdict_once(drift_service: DriftProcess,
                                                                     producer: EventProducer) -> None:
    adapter = "guarded"
    traffic = RatedTraffic(adapter, seed=3)
    traffic.move("production", 1, None)
    for _ in range(300):
        traffic.serve(1, 0.3)
    traffic.move("production", 2, 1)
    for _ in range(400):
        traffic.serve(2, -0.4)
    [expected] = run(traffic.lines()).verdicts
    assert expected.action == "rollback_production"

    drift_service.start()
    cut = next(i for i, e in enumerate(traffic.events) if isinstance(e, RegistryEvent) and e.version == 2) + 31
    _publish(producer, traffic.events[:cut])  # the move and the first 15 requests of v2, rated
    wait_for("the guard to start", lambda: (r := _rollout(drift_service, adapter)) and r["guard"]
             and r["guard"]["new"]["n"] == 15, 60.0, 0.3)
    drift_service.stop(signal.SIGKILL)  # whatever the last checkpoint held, the rest is replayed from Kafka
    drift_service.start()
    _publish(producer, traffic.events[cut:])
    ratings = sum(isinstance(e, InferenceFeedback) for e in traffic.events)
    state = wait_for("every rating", lambda: (r := _rollout(drift_service, adapter)) and r["ratings"] == ratings and r,
                     240.0, 0.3)
    [verdict] = state["verdicts"]
    assert verdict["decision_id"] == str(expected.decision_id)
    assert verdict["delivery"] == "observed"  # no registry token: reported, not sent
    metrics = httpx.get(f"{drift_service.url}/metrics", timeout=5).text
    assert 'adaptloop_drift_rollout_deliveries_total{action="rollback_production",outcome="observed"}' in metrics
    # The registry's answer, with no rating after it: held only until the idle topics are known read to their end.
    traffic.move("production", 1, 2, actor="system:guard")
    _publish(producer, traffic.events[-1:])
    state = wait_for("the move on an idle partition to apply", lambda: (r := _rollout(drift_service, adapter))
                     and r["production"] == 1 and not r["held_moves"] and r, 60.0, 0.3)
    assert state["guard"] is None and state["closed_trials"][-1]["outcome"] == "rolled back"
