"""The two comparisons the judge runs, and the verdicts they reach.

`CanaryTrial`: while a canary serves next to production, the canary's ratings against
production's over the same period. `GuardTrial`: after `production` moves, the new version's
ratings against what the previous version was rated just before the move. Both compare the
confidence sequences of two means (`sequential.py`) after every rating.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from adaptloop_contracts import RolloutDecision

from adaptloop_drift.rollout.ratings import RatedEvent
from adaptloop_drift.rollout.sequential import ConfidenceSequence, Difference, MeanBound, RunningMean

VERDICT_NAMESPACE = uuid.UUID("9c4e2b71-6a0d-4f3e-8b52-1d7a3c9e5f60")
Action = Literal["graduate_canary", "abandon_canary", "rollback_production"]
Delivery = Literal["pending", "applied", "duplicate", "stale", "refused", "failed", "observed"]


def label(version: int | None) -> str:
    return "the base model" if version is None else f"v{version}"


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass
class Arm:
    """The ratings of one version inside one trial, with the first and last rating that entered."""

    version: int | None
    """None: the base model, serving the adapter's name while it has no production version."""
    stats: RunningMean = field(default_factory=RunningMean)
    first_event: str | None = None
    last_event: str | None = None
    first_at: float | None = None
    last_at: float | None = None

    def add(self, rated: RatedEvent) -> None:
        self.stats.add(rated.score)
        if self.first_event is None:
            self.first_event, self.first_at = rated.feedback_id, rated.served_at
        self.last_event, self.last_at = rated.feedback_id, rated.served_at

    @property
    def n(self) -> int:
        return self.stats.n

    def summary(self, bound: MeanBound) -> dict[str, Any]:
        return {"version": self.version, "n": self.n, "mean": round(bound.mean, 4), "low": round(bound.low, 4),
                "high": round(bound.high, 4), "first_event": self.first_event, "last_event": self.last_event,
                "served_from": iso(self.first_at), "served_to": iso(self.last_at)}


@dataclass
class Verdict:
    """What the judge decided, ready to be sent to the registry; `decision_id` is derived from its evidence."""

    decision_id: uuid.UUID
    adapter: str
    action: Action
    version: int
    previous_version: int | None
    reason: str
    evidence: dict[str, Any]
    decided_at: float
    delivery: Delivery = "pending"
    detail: str | None = None

    def request(self) -> RolloutDecision:
        return RolloutDecision(decision_id=self.decision_id, action=self.action, version=self.version,
                               previous_version=self.previous_version, reason=self.reason[:1000],
                               evidence=self.evidence)

    def snapshot(self) -> dict[str, Any]:
        return {"decision_id": str(self.decision_id), "action": self.action, "version": self.version,
                "previous_version": self.previous_version, "reason": self.reason, "decided_at": iso(self.decided_at),
                "delivery": self.delivery, "detail": self.detail, "evidence": self.evidence}


def verdict_id(adapter: str, action: str, version: int, start_event: str, deciding_event: str) -> uuid.UUID:
    """Deterministic: the same trial (its start event) decided at the same rating always has the same id."""
    return uuid.uuid5(VERDICT_NAMESPACE, f"{adapter}|{action}|{version}|{start_event}|{deciding_event}")


@dataclass(frozen=True)
class TrialRules:
    """The judge's thresholds (from the `ADAPTLOOP_DRIFT_ROLLOUT_*` settings)."""

    alpha: float = 0.05
    tolerated_drop: float = 0.1
    min_rated_per_arm: int = 30
    graduate_after_requests: int = 500
    guard_window_events: int = 1000
    tuned_for_events: int = 100

    @cached_property
    def sequence(self) -> ConfidenceSequence:
        """Each arm at alpha/2, so a verdict comparing two arms errs with probability at most alpha."""
        return ConfidenceSequence(self.alpha / 2.0, self.tuned_for_events)


def _evidence(kind: str, rules: TrialRules, new: Arm, new_b: MeanBound, ref: Arm, ref_b: MeanBound,
              diff: Difference, start_event: str, since: float, **extra: Any) -> dict[str, Any]:
    return {
        "test": "confidence sequences (normal mixture), one per arm at alpha/2",
        "trial": kind, "alpha": rules.alpha, "threshold": -rules.tolerated_drop,
        "new": new.summary(new_b), "reference": ref.summary(ref_b),
        "difference": {"estimate": round(diff.estimate, 4), "low": round(diff.low, 4), "high": round(diff.high, 4),
                       "z": round(diff.z, 3)},
        "window": {"start_event": start_event, "since": iso(since)}, **extra,
    }


@dataclass
class CanaryTrial:
    """The canary against production, both rated on requests served since the canary started."""

    adapter: str
    version: int
    production: int | None
    since: float
    start_event: str
    canary: Arm
    baseline: Arm
    served: int = 0
    """Requests the canary served, as far as the rated ones show (the highest position rated so far)."""
    verdict: Verdict | None = None
    until: float | None = None
    """Set when the judge's own move ended the period before this trial reached that verdict (a replay
    taking the move early): only requests served before it still count."""

    @classmethod
    def start(cls, adapter: str, version: int, production: int | None, since: float,
              start_event: str) -> CanaryTrial:
        return cls(adapter, version, production, since, start_event, Arm(version), Arm(production))

    def add(self, rated: RatedEvent, rules: TrialRules) -> Verdict | None:
        """Count a rating of either arm; return the verdict it completes, if any."""
        if self.verdict is not None or rated.served_at < self.since or (
                self.until is not None and rated.served_at >= self.until):
            return None
        if rated.version == self.version:
            self.canary.add(rated)
            self.served = max(self.served, rated.ordinal or 0)
        elif rated.version == self.production:
            self.baseline.add(rated)
        else:
            return None
        self.verdict = self._decide(rated, rules)
        return self.verdict

    def _decide(self, rated: RatedEvent, rules: TrialRules) -> Verdict | None:
        if min(self.canary.n, self.baseline.n) < rules.min_rated_per_arm:
            return None
        seq = rules.sequence
        cb, pb = seq.bound(self.canary.stats), seq.bound(self.baseline.stats)
        diff = Difference.of(cb, pb, self.canary.stats.variance, self.baseline.stats.variance)
        m = rules.tolerated_drop
        versus = (f"{cb.mean:.2f} over {cb.n} vs {pb.mean:.2f} over {pb.n} on production "
                  f"{label(self.production)}")
        if diff.high < -m:
            action: Action = "abandon_canary"
            reason = (f"canary v{self.version} rated {-diff.estimate:.2f} lower ({versus}); the difference is "
                      f"below {diff.high:.2f} < -{m:.2f} at confidence {1 - rules.alpha:.2f}")
        elif diff.low > -m:
            action = "graduate_canary"
            reason = (f"canary v{self.version} is no worse by more than {m:.2f} ({versus}; the difference is "
                      f"above {diff.low:.2f}) at confidence {1 - rules.alpha:.2f}")
        elif self.served >= rules.graduate_after_requests:
            action = "graduate_canary"
            reason = f"canary v{self.version} served {self.served} requests without a significant drop ({versus})"
        else:
            return None
        evidence = _evidence("canary", rules, self.canary, cb, self.baseline, pb, diff, self.start_event, self.since,
                             requests_served=self.served, graduate_after_requests=rules.graduate_after_requests)
        return Verdict(verdict_id(self.adapter, action, self.version, self.start_event, rated.feedback_id),
                       self.adapter, action, self.version, self.production, reason, evidence, rated.rated_at)

    def snapshot(self, rules: TrialRules) -> dict[str, Any]:
        seq = rules.sequence
        return {"kind": "canary", "version": self.version, "production": self.production, "since": iso(self.since),
                "start_event": self.start_event, "requests_served": self.served, "until": iso(self.until),
                "canary": self.canary.summary(seq.bound(self.canary.stats)),
                "production_arm": self.baseline.summary(seq.bound(self.baseline.stats)),
                "verdict": None if self.verdict is None else self.verdict.snapshot()}


@dataclass
class GuardTrial:
    """The new production version against the previous one's ratings from just before the move."""

    adapter: str
    version: int
    previous: int
    since: float
    start_event: str
    reference_from: float | None
    """Reference ratings are of requests served from here on (the previous version's last trigger drift)."""
    reference: Arm
    current: Arm
    reference_size: int
    verdict: Verdict | None = None
    passed: bool = False
    until: float | None = None
    """As for `CanaryTrial.until`."""

    def add(self, rated: RatedEvent, rules: TrialRules) -> Verdict | None:
        if self.verdict is not None or self.passed:
            return None
        if rated.version == self.previous and rated.served_at < self.since:
            if self.reference.n < self.reference_size and (
                    self.reference_from is None or rated.served_at >= self.reference_from):
                self.reference.add(rated)
            return None
        if rated.version != self.version or rated.served_at < self.since or (
                self.until is not None and rated.served_at >= self.until):
            return None
        self.current.add(rated)
        self.verdict = self._decide(rated, rules)
        if self.verdict is None and self.current.n >= rules.guard_window_events:
            self.passed = True
        return self.verdict

    def _decide(self, rated: RatedEvent, rules: TrialRules) -> Verdict | None:
        if min(self.current.n, self.reference.n) < rules.min_rated_per_arm:
            return None
        seq = rules.sequence
        nb, rb = seq.bound(self.current.stats), seq.bound(self.reference.stats)
        diff = Difference.of(nb, rb, self.current.stats.variance, self.reference.stats.variance)
        if diff.high >= -rules.tolerated_drop:
            return None
        reason = (f"v{self.version} rated {-diff.estimate:.2f} below v{self.previous} before the move "
                  f"({nb.mean:.2f} over {nb.n} vs {rb.mean:.2f} over {rb.n}); the difference is below "
                  f"{diff.high:.2f} < -{rules.tolerated_drop:.2f} at confidence {1 - rules.alpha:.2f}")
        evidence = _evidence("guard", rules, self.current, nb, self.reference, rb, diff, self.start_event, self.since,
                             reference_from=iso(self.reference_from), guard_window_events=rules.guard_window_events)
        return Verdict(verdict_id(self.adapter, "rollback_production", self.version, self.start_event,
                                  rated.feedback_id),
                       self.adapter, "rollback_production", self.version, self.previous, reason, evidence,
                       rated.rated_at)

    def snapshot(self, rules: TrialRules) -> dict[str, Any]:
        seq = rules.sequence
        return {"kind": "guard", "version": self.version, "previous_version": self.previous,
                "since": iso(self.since), "start_event": self.start_event,
                "reference_from": iso(self.reference_from), "passed": self.passed, "until": iso(self.until),
                "new": self.current.summary(seq.bound(self.current.stats)),
                "reference": self.reference.summary(seq.bound(self.reference.stats)),
                "verdict": None if self.verdict is None else self.verdict.snapshot()}
