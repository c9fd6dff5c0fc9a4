"""The retrain budget per adapter: requests over it are held back with the reason, and made once it allows."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from adaptloop_contracts import TrainingEvent
from adaptloop_drift.config import Settings
from adaptloop_drift.policy import AdapterPolicyState, DriftPolicy, PolicyConfig, RetrainBudget
from pydantic import ValidationError
from test_policy import T0, det

DAY = 86_400.0


def _finish(policy: DriftPolicy, state: AdapterPolicyState, request_id: uuid.UUID, at: float,
            train_s: float) -> None:
    policy.on_training_event(state, TrainingEvent(
        model="support", job_id=uuid.uuid4(), request_id=request_id, state="succeeded",
        metrics={"timings": {"train_loop_s": train_s}}, occurred_at=T0 + timedelta(seconds=at)))


def test_retrains_per_day_hold_back_until_the_day_has_passed() -> None:
    policy = DriftPolicy(PolicyConfig(cooldown_s=0, budgets={"support": RetrainBudget(retrains_per_day=1)}))
    state = AdapterPolicyState()
    first = policy.on_drift_detected(state, det("quality_error", "high"))
    assert first is not None
    _finish(policy, state, first.event_id, at=10, train_s=5)
    assert policy.on_drift_detected(state, det("quality_error", "high", at=100)) is None
    assert state.held_back is not None and "1 of 1 drift retrains" in state.held_back["reason"]
    assert state.held_back_total == 1 and state.held_back["drift_event_ids"]
    later = policy.on_drift_detected(state, det("quality_error", "high", at=DAY + 1))
    assert later is not None and state.held_back is None


def test_training_seconds_per_day_count_every_finished_job() -> None:
    policy = DriftPolicy(PolicyConfig(cooldown_s=0, budgets={"*": RetrainBudget(training_seconds_per_day=60)}))
    state = AdapterPolicyState()
    _finish(policy, state, uuid.uuid4(), at=0, train_s=61)  # e.g. a manual job: never held, but it spends
    assert policy.on_drift_detected(state, det("quality_error", "high", at=30)) is None
    assert "61 of 60 training seconds" in (state.held_back or {})["reason"]
    assert policy.on_drift_detected(state, det("quality_error", "high", at=DAY + 1)) is not None


def test_no_budget_means_no_limit_and_old_states_still_load() -> None:
    policy, state = DriftPolicy(PolicyConfig(cooldown_s=0)), AdapterPolicyState.from_json({"requests": 3})
    for at in range(0, 50, 10):
        request = policy.on_drift_detected(state, det("quality_error", "high", at=at))
        assert request is not None
        _finish(policy, state, request.event_id, at=at + 1, train_s=1000)


def test_budgets_are_configured_as_json_and_bad_ones_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTLOOP_DRIFT_POLICY_BUDGETS", json.dumps({"support": {"retrains_per_day": 2}}))
    config = Settings().policy_config()
    assert config.budget_for("support") == RetrainBudget(retrains_per_day=2)
    assert config.budget_for("other") == RetrainBudget()
    for bad in ({"support": {"retrains_per_week": 2}}, {"support": {"retrains_per_day": -1}}):
        monkeypatch.setenv("ADAPTLOOP_DRIFT_POLICY_BUDGETS", json.dumps(bad))
        with pytest.raises(ValidationError):
            Settings()
