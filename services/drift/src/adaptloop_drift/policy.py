"""DriftPolicy: turns drift.detected events into at most one open retrain request per adapter.

A request is made when, within `window_s`, a trigger signal alarms with high severity or
`min_agreeing_signals` distinct trigger signals alarm with at least medium severity. No
request while the adapter is paused, while a request is open (until `training.events`
reports a final state or `open_timeout_s` passes), or within `cooldown_s` of the last one.
After a rollback by the guard or a rejected version, detections that happened before it no
longer count (nor any of the rejected version): the next request needs new drift evidence.
A budget per adapter (retrains per day, training seconds per day, over the 24 hours before the
detection) holds a request back while spent; the state says why (`held_back`), the detections are
kept, and the first detection once the budget allows makes the request. Manual jobs (trainer API,
CLI) are never held back, though their training seconds count against the budget.
Times are the events' `occurred_at`, so replaying the same events gives the same decisions.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from adaptloop_contracts import DriftDetected, RegistryEvent, RetrainRequested, TrainingEvent
from adaptloop_contracts.registry_api import ACTOR_OF_ACTION
from adaptloop_kafka.dedup import remember

from adaptloop_drift.signals import OPERATIONAL_SIGNALS, Signal

GUARD_ACTOR = ACTOR_OF_ACTION["rollback_production"]
"""The actor the registry records for a rollback decided by the drift service's guard."""
RETRAIN_NAMESPACE = uuid.UUID("6f1d8a52-3c1e-4d0b-9a57-2f4c1f0b7d21")
_RANK = {"low": 0, "medium": 1, "high": 2}
SEEN_EVENTS = 200
"""How many detection ids, and how many registry and training event ids, an adapter's policy state remembers
for deduplication (each window is kept in the state, so it survives restarts and rebalances with it)."""


DAY_S = 86_400.0


@dataclass(frozen=True)
class RetrainBudget:
    """What drift-requested retrains of one adapter may spend per 24 hours (None: no limit)."""

    retrains_per_day: int | None = None
    training_seconds_per_day: float | None = None


@dataclass(frozen=True)
class PolicyConfig:
    window_s: float = 900.0
    min_agreeing_signals: int = 2
    cooldown_s: float = 3600.0
    open_timeout_s: float = 6 * 3600.0
    trigger_signals: frozenset[str] = frozenset(str(s) for s in Signal if s not in OPERATIONAL_SIGNALS)
    requested_by: str = "adaptloop-drift"
    budgets: Mapping[str, RetrainBudget] = field(default_factory=dict)
    """Per adapter name; `*` applies to adapters without their own."""

    def budget_for(self, adapter: str) -> RetrainBudget:
        return self.budgets.get(adapter) or self.budgets.get("*") or RetrainBudget()


@dataclass
class AdapterPolicyState:
    """What the policy remembers about one adapter (stored as JSON in a changelogged table)."""

    recent: list[dict[str, Any]] = field(default_factory=list)
    seen_drift_ids: list[str] = field(default_factory=list)
    open_request_id: str | None = None
    open_since: float | None = None
    last_request_at: float | None = None
    paused: bool = False
    production_version: int | None = None
    requests: int = 0
    evidence_after: float | None = None
    """Set by a rollback or a rejected version: only detections that happened after it count."""
    rejected_versions: list[int] = field(default_factory=list)
    stale_detections: int = 0
    seen_event_ids: list[str] = field(default_factory=list)
    """The newest registry and training events applied: a redelivered one changes nothing."""
    request_times: list[float] = field(default_factory=list)
    """When the requests of the last 24 hours were made (for the budget)."""
    training_spend: list[list[float]] = field(default_factory=list)
    """`[at, training seconds]` of the jobs that finished in the last 24 hours (any reason)."""
    held_back: dict[str, Any] | None = None
    """The last request the budget held back, and why; cleared by the next request."""
    held_back_total: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> AdapterPolicyState:
        return cls(**data) if data else cls()


def retrain_event_id(adapter: str, drift_event_ids: list[uuid.UUID]) -> uuid.UUID:
    """Deterministic per drift episode: the same evidence always yields the same idempotency key."""
    return uuid.uuid5(RETRAIN_NAMESPACE, adapter + "|" + ",".join(sorted(str(i) for i in drift_event_ids)))


def _ts(at: datetime) -> float:
    return at.timestamp()


class DriftPolicy:
    """Decides retrain requests; holds only configuration, the state is passed in and mutated."""

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()

    def on_drift_detected(self, state: AdapterPolicyState, event: DriftDetected) -> RetrainRequested | None:
        """Record one detection; return the retrain request it completes, if any."""
        cfg = self.config
        eid = str(event.event_id)
        seen = remember(state.seen_drift_ids, eid, SEEN_EVENTS)
        if seen is None:
            return None
        state.seen_drift_ids = seen
        if event.signal not in cfg.trigger_signals:
            return None
        if (state.production_version is not None and event.adapter_version is not None
                and event.adapter_version < state.production_version):
            return None
        now = _ts(event.occurred_at)
        if ((state.evidence_after is not None and now < state.evidence_after)
                or event.adapter_version in state.rejected_versions):
            state.stale_detections += 1
            return None
        state.recent = [r for r in state.recent if now - r["at"] <= cfg.window_s] + [
            {"id": eid, "signal": event.signal, "severity": event.severity, "at": now,
             "version": event.adapter_version}
        ]
        if state.paused:
            return None
        if state.open_request_id is not None:
            if state.open_since is not None and now - state.open_since < cfg.open_timeout_s:
                return None
            state.open_request_id = None
        if state.last_request_at is not None and now - state.last_request_at < cfg.cooldown_s:
            return None
        if not self._agrees(state.recent):
            return None
        evidence = [r for r in state.recent if _RANK[r["severity"]] >= 1]
        drift_ids = [uuid.UUID(r["id"]) for r in evidence]
        over = self.over_budget(state, event.model, now)
        if over is not None:
            state.held_back = {"reason": over, "at": event.occurred_at.isoformat(),
                               "drift_event_ids": [str(i) for i in drift_ids]}
            state.held_back_total += 1
            return None
        request = RetrainRequested(
            event_id=retrain_event_id(event.model, drift_ids),
            model=event.model,
            occurred_at=event.occurred_at,
            reason="drift",
            drift_event_ids=drift_ids,
            requested_by=cfg.requested_by,
            drift_started_at=datetime.fromtimestamp(min((r["at"] for r in evidence), default=now), UTC),
        )
        state.open_request_id = str(request.event_id)
        state.open_since = now
        state.last_request_at = now
        state.requests += 1
        state.request_times = [*state.request_times, now]
        state.held_back = None
        state.recent = []
        return request

    def over_budget(self, state: AdapterPolicyState, adapter: str, now: float) -> str | None:
        """Why a request now would exceed the adapter's budget (None when it would not); prunes old entries."""
        budget = self.config.budget_for(adapter)
        state.request_times = [t for t in state.request_times if now - t < DAY_S]
        state.training_spend = [s for s in state.training_spend if now - s[0] < DAY_S]
        if budget.retrains_per_day is not None and len(state.request_times) >= budget.retrains_per_day:
            return (f"retrain budget spent: {len(state.request_times)} of {budget.retrains_per_day} "
                    "drift retrains in the last 24 hours")
        spent = sum(s[1] for s in state.training_spend)
        if budget.training_seconds_per_day is not None and spent >= budget.training_seconds_per_day:
            return (f"training budget spent: {spent:.0f} of {budget.training_seconds_per_day:.0f} training "
                    "seconds in the last 24 hours")
        return None

    def _agrees(self, recent: list[dict[str, Any]]) -> bool:
        if any(r["severity"] == "high" for r in recent):
            return True
        signals = {r["signal"] for r in recent if _RANK[r["severity"]] >= 1}
        return len(signals) >= self.config.min_agreeing_signals

    @staticmethod
    def first_delivery(state: AdapterPolicyState, event_id: str) -> bool:
        """Remember a registry or training event; False when it was applied before (a redelivery)."""
        seen = remember(state.seen_event_ids, event_id, SEEN_EVENTS)
        if seen is None:
            return False
        state.seen_event_ids = seen
        return True

    def on_training_event(self, state: AdapterPolicyState, event: TrainingEvent) -> None:
        """A final state of the open request's job closes it."""
        if not self.first_delivery(state, str(event.event_id)):
            return
        if state.open_request_id == str(event.request_id) and event.state.is_final:
            state.open_request_id = None
            state.open_since = None
        timings = event.metrics.get("timings") if event.state.is_final else None
        seconds = timings.get("train_loop_s") if isinstance(timings, dict) else None
        if isinstance(seconds, (int, float)) and seconds > 0:
            state.training_spend = [*state.training_spend[-199:], [_ts(event.occurred_at), float(seconds)]]

    def on_registry_event(self, state: AdapterPolicyState, event: RegistryEvent) -> None:
        """A production alias move starts a new reference: older detections no longer count.

        A rollback by the guard or a rejected version also sets `evidence_after`: what was detected
        before it was the evidence of the attempt that failed, so it cannot justify the next one.
        A redelivered event (the same `event_id`, e.g. a re-sent outbox row) changes nothing.
        """
        if not self.first_delivery(state, str(event.event_id)):
            return
        if event.event_type == "adapter.alias_moved" and event.alias in (None, "production") and event.version:
            state.production_version = event.version
            state.recent = []
        rolled_back = (event.event_type == "adapter.alias_moved" and event.alias in (None, "production")
                       and event.actor == GUARD_ACTOR and event.previous_version is not None)
        rejected = event.event_type == "adapter.version_rejected" and event.version is not None
        if rolled_back or rejected:
            at = _ts(event.occurred_at)
            state.evidence_after = max(at, state.evidence_after or at)
            state.recent = []
            bad = event.previous_version if rolled_back else event.version
            if bad is not None and bad not in state.rejected_versions:
                state.rejected_versions = [*state.rejected_versions[-19:], bad]

    @staticmethod
    def set_paused(state: AdapterPolicyState, paused: bool) -> None:
        state.paused = paused
