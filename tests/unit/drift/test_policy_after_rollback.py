"""DriftPolicy after a rollback or a rejected version: the next request needs new drift evidence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from adaptloop_contracts import DriftDetected, RegistryEvent, TrainingEvent
from adaptloop_drift.policy import AdapterPolicyState, DriftPolicy, PolicyConfig

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def det(at: float, version: int = 1, signal: str = "quality_error") -> DriftDetected:
    return DriftDetected(model="support", adapter_version=version, signal=signal, detector="ADWIN",
                         trigger_event_id=uuid.uuid4(), observations=100, severity="high",
                         occurred_at=T0 + timedelta(seconds=at))


def moved(at: float, version: int, previous: int | None, actor: str) -> RegistryEvent:
    return RegistryEvent(event_type="adapter.alias_moved", model="support", alias="production", version=version,
                         previous_version=previous, actor=actor, occurred_at=T0 + timedelta(seconds=at))


def rejected(at: float, version: int) -> RegistryEvent:
    return RegistryEvent(event_type="adapter.version_rejected", model="support", version=version,
                         actor="system:canary", details={"cause": "canary_abandoned"},
                         occurred_at=T0 + timedelta(seconds=at))


def _after_first_request(policy: DriftPolicy) -> AdapterPolicyState:
    """v1 drifted, a retrain was requested and finished, v2 was promoted."""
    state = AdapterPolicyState()
    policy.on_registry_event(state, moved(0, 1, None, "admin"))
    first = policy.on_drift_detected(state, det(100))
    assert first is not None
    policy.on_training_event(state, TrainingEvent(model="support", job_id=uuid.uuid4(), request_id=first.event_id,
                                                  state="succeeded"))
    policy.on_registry_event(state, moved(200, 2, 1, "system:trainer"))
    return state


def test_rollback_by_the_guard_discards_the_evidence_seen_before_it() -> None:
    policy = DriftPolicy(PolicyConfig(cooldown_s=0))
    state = _after_first_request(policy)
    policy.on_registry_event(state, moved(300, 1, 2, "system:guard"))
    assert state.production_version == 1 and state.evidence_after is not None and state.rejected_versions == [2]
    # Detections that happened before the rollback, delivered after it, do not count ...
    assert policy.on_drift_detected(state, det(150, version=1)) is None
    assert policy.on_drift_detected(state, det(290, version=1, signal="input_novelty")) is None
    # ... nor any detection of the version that was rolled back, whenever it happened.
    assert policy.on_drift_detected(state, det(400, version=2)) is None
    assert state.stale_detections == 3 and state.requests == 1
    # New evidence, observed after the rollback, does.
    again = policy.on_drift_detected(state, det(400, version=1))
    assert again is not None and state.requests == 2


def test_a_rejected_version_sets_the_same_bar() -> None:
    policy = DriftPolicy(PolicyConfig(cooldown_s=0))
    state = _after_first_request(policy)
    policy.on_registry_event(state, rejected(250, 3))  # a canary abandoned; production stays at 2
    assert state.production_version == 2 and state.rejected_versions == [3]
    assert policy.on_drift_detected(state, det(240, version=2)) is None
    assert policy.on_drift_detected(state, det(260, version=3)) is None
    assert policy.on_drift_detected(state, det(260, version=2)) is not None


def test_other_moves_do_not_raise_the_bar() -> None:
    policy = DriftPolicy(PolicyConfig(cooldown_s=0))
    state = _after_first_request(policy)
    policy.on_registry_event(state, moved(300, 1, 2, "admin"))  # a manual rollback: the admin's call
    assert state.evidence_after is None and state.rejected_versions == []
    restored = AdapterPolicyState.from_json(state.to_json())
    assert restored == state
    older = AdapterPolicyState.from_json({k: v for k, v in state.to_json().items()
                                          if k not in ("evidence_after", "rejected_versions", "stale_detections")})
    assert older.evidence_after is None and older.rejected_versions == []
