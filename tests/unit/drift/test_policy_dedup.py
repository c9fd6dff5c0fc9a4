"""DriftPolicy: a redelivered registry event (the same event_id, e.g. a re-sent outbox row) changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from adaptloop_contracts import DriftDetected, RegistryEvent
from adaptloop_drift.policy import AdapterPolicyState, DriftPolicy

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _detection(at: float) -> DriftDetected:
    return DriftDetected(model="support", adapter_version=2, signal="quality_error", detector="ADWIN",
                         trigger_event_id=uuid.uuid4(), observations=100, severity="low",
                         occurred_at=T0 + timedelta(seconds=at))


def test_a_redelivered_alias_move_does_not_clear_newer_evidence() -> None:
    policy, state = DriftPolicy(), AdapterPolicyState()
    move = RegistryEvent(event_type="adapter.alias_moved", model="support", alias="production", version=2,
                         previous_version=1, actor="admin", occurred_at=T0)
    policy.on_registry_event(state, move)
    policy.on_drift_detected(state, _detection(10))
    before = state.to_json()
    policy.on_registry_event(state, RegistryEvent.from_json_bytes(move.to_json_bytes()))
    assert state.to_json() == before
    assert len(state.recent) == 1 and state.seen_event_ids == [str(move.event_id)]

