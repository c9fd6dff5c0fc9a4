"""DriftPolicy: debounce, cool-down, one open retrain, pause, training and registry events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from adaptloop_contracts import DriftDetected, RegistryEvent, TrainingEvent
from adaptloop_drift.policy import AdapterPolicyState, DriftPolicy, PolicyConfig

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def det(signal: str, severity: str = "medium", at: float = 0.0, version: int = 1) -> DriftDetected:
    return DriftDetected(model="support", adapter_version=version, signal=signal, detector="ADWIN",
                         trigger_event_id=uuid.uuid4(), observations=100, severity=severity,
                         occurred_at=T0 + timedelta(seconds=at))


def test_one_medium_signal_is_not_enough_two_agreeing_are() -> None:
    policy, state = DriftPolicy(PolicyConfig(window_s=600)), AdapterPolicyState()
    assert policy.on_drift_detected(state, det("quality_error")) is None
    assert policy.on_drift_detected(state, det("input_novelty", at=700)) is None  # first one left the window
    request = policy.on_drift_detected(state, det("surprise", at=800))
    assert request is not None and request.reason == "drift" and len(request.drift_event_ids) == 2
    assert request.drift_started_at == T0 + timedelta(seconds=700)  # the episode's earliest alarm


def test_high_severity_alone_triggers_and_operational_signals_never_do() -> None:
    policy, state = DriftPolicy(), AdapterPolicyState()
    assert policy.on_drift_detected(state, det("latency_ms", "high")) is None
    assert policy.on_drift_detected(state, det("quality_error", "high")) is not None


def test_open_request_then_cooldown_then_new_request() -> None:
    policy, state = DriftPolicy(PolicyConfig(cooldown_s=1000)), AdapterPolicyState()
    first = policy.on_drift_detected(state, det("quality_error", "high"))
    assert first is not None
    assert policy.on_drift_detected(state, det("quality_error", "high", at=5000)) is None  # still open
    job = TrainingEvent(model="support", job_id=uuid.uuid4(), request_id=first.event_id, state="succeeded")
    policy.on_training_event(state, job)
    assert state.open_request_id is None
    assert policy.on_drift_detected(state, det("quality_error", "high", at=500)) is None  # cool-down
    assert policy.on_drift_detected(state, det("quality_error", "high", at=6000)) is not None


def test_duplicate_detection_and_deterministic_request_id() -> None:
    policy = DriftPolicy()
    event = det("quality_error", "high")
    a, b = AdapterPolicyState(), AdapterPolicyState()
    r1, r2 = policy.on_drift_detected(a, event), policy.on_drift_detected(b, event)
    assert r1 is not None and r2 is not None and r1.event_id == r2.event_id
    assert policy.on_drift_detected(a, event) is None


def test_pause_and_old_version_detections() -> None:
    policy, state = DriftPolicy(), AdapterPolicyState()
    policy.set_paused(state, True)
    assert policy.on_drift_detected(state, det("quality_error", "high")) is None
    policy.set_paused(state, False)
    policy.on_registry_event(state, RegistryEvent(model="support", event_type="adapter.alias_moved",
                                                  alias="production", version=3))
    assert policy.on_drift_detected(state, det("quality_error", "high", version=2)) is None
    assert policy.on_drift_detected(state, det("quality_error", "high", version=3)) is not None
    assert AdapterPolicyState.from_json(state.to_json()) == state
