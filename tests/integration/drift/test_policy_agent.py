"""Drift's policy agent through the real broker: poison to the DLQ ahead of a valid event, redeliveries dropped."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from adaptloop_contracts import DriftDetected, RegistryEvent, TopicNames
from adaptloop_devstack.topic_reader import read_from_start
from adaptloop_kafka import EventProducer
from drift_testkit import DriftProcess

ADAPTER = "policy-agent"


def _detection(version: int) -> DriftDetected:
    return DriftDetected(model=ADAPTER, adapter_version=version, signal="quality_error", detector="ADWIN",
                         trigger_event_id=uuid.uuid4(), observations=100, severity="low")


def _policy_until(drift: DriftProcess, holds: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    policy: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = httpx.get(f"{drift.url}/v1/adapters/{ADAPTER}/state", timeout=5)
        policy = (answer.json().get("policy") if answer.status_code == 200 else None) or {}
        if policy and holds(policy):
            return policy
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; policy state: {policy}")


def _recent_ids(policy: dict[str, Any]) -> list[str]:
    return [r["id"] for r in policy["recent"]]


def test_poison_goes_to_the_dlq_and_a_resent_registry_event_changes_nothing(
    drift_service: DriftProcess, producer: EventProducer, topics: TopicNames,
) -> None:
    drift_service.start()
    detected = topics("drift.detected")
    producer.produce_raw(detected, b'{"event_type": "drift.detected", "model": "policy-agent", "severity": "dire"}',
                         key=ADAPTER.encode(), headers=None)
    first = _detection(1)
    producer.produce_raw(detected, first.to_json_bytes(), key=ADAPTER.encode(), headers=None)
    assert producer.flush(10) == 0
    _policy_until(drift_service, lambda p: _recent_ids(p) == [str(first.event_id)], "the valid detection")
    [dead] = read_from_start(drift_service.bootstrap, topics.dlq("drift.detected"), want=1)
    headers = {k: v.decode() for k, v in dead.headers()}
    assert headers["adaptloop-dlq-source-topic"] == detected and "severity" in headers["adaptloop-dlq-error"]

    moved = RegistryEvent(event_type="adapter.alias_moved", model=ADAPTER, alias="production", version=2,
                          previous_version=1, actor="tests")
    producer.publish_sync("registry.events", moved)
    _policy_until(drift_service, lambda p: p["production_version"] == 2 and not p["recent"], "the promotion")
    second = _detection(2)
    producer.publish_sync("drift.detected", second)
    _policy_until(drift_service, lambda p: _recent_ids(p) == [str(second.event_id)], "the newer detection")

    marker = RegistryEvent(event_type="adapter.version_registered", model=ADAPTER, version=3, actor="tests")
    for event in (moved, marker):  # the outbox row sent again, then something to wait for behind it
        producer.produce_raw(topics("registry.events"), event.to_json_bytes(), key=ADAPTER.encode(), headers=None)
    assert producer.flush(10) == 0
    policy = _policy_until(drift_service, lambda p: str(marker.event_id) in p["seen_event_ids"], "the marker")
    assert _recent_ids(policy) == [str(second.event_id)], "the redelivered promotion cleared newer evidence"
    assert policy["seen_event_ids"] == [str(moved.event_id), str(marker.event_id)]
