"""HTTP shapes other services send to the registry and read back: serving reports, rollout decisions, approvals.

The registry validates its bodies with these models, inference builds its serving reports with them, and
the drift-side judge sends its rollout decisions with them, so every side agrees on one definition.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from adaptloop_contracts.base import AdapterName

MAX_EVIDENCE_BYTES = 8192
"""Largest `evidence` object of a rollout decision (encoded JSON); it travels inside a 16 KiB event `details`."""
MAX_REPORT_VERSIONS = 256
"""Most versions one serving report may count."""
MAX_REPORT_COUNT = 10**12
MAX_REPORT_TOKENS = 10**15

RolloutAction = Literal["graduate_canary", "abandon_canary", "rollback_production"]
ACTOR_OF_ACTION: dict[str, str] = {
    "graduate_canary": "system:canary",
    "abandon_canary": "system:canary",
    "rollback_production": "system:guard",
}
"""The actor a rollout decision's moves are recorded under (the calling token is kept as `via`)."""

VersionKey = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,8}$")]
"""A version number as a JSON object key: `"3"`."""
Reason = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
Replica = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _bounded_evidence(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > MAX_EVIDENCE_BYTES:
        raise ValueError(f"evidence larger than {MAX_EVIDENCE_BYTES} bytes")
    return value


Evidence = Annotated[dict[str, Any], AfterValidator(_bounded_evidence)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServingReport(_Body):
    """Requests each version of one adapter served on one replica between `period_start` and `period_end`.

    `report_id` is the idempotency key: a retried report is counted once.
    """

    report_id: uuid.UUID
    replica: Replica
    adapter: AdapterName
    period_start: AwareDatetime
    period_end: AwareDatetime
    counts: dict[VersionKey, Annotated[int, Field(ge=0, le=MAX_REPORT_COUNT)]] = Field(
        min_length=1, max_length=MAX_REPORT_VERSIONS)
    tokens: dict[VersionKey, Annotated[int, Field(ge=0, le=MAX_REPORT_TOKENS)]] = Field(
        default_factory=dict, max_length=MAX_REPORT_VERSIONS)
    """Tokens (prompt + completion) each version served in the period; versions of `counts` only."""

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        extra = set(self.tokens) - set(self.counts)
        if extra:
            raise ValueError(f"tokens names versions without counts: {sorted(extra)}")
        return self


class ServingReportAnswer(BaseModel):
    report_id: uuid.UUID
    adapter: str
    replica: str
    counts: dict[str, int]
    """The counts of the report as first recorded."""
    served_requests: dict[str, int]
    """Each reported version's `served_requests` total now."""
    duplicate: bool


class RolloutDecision(_Body):
    """A verdict of the automated judge; `decision_id` is its idempotency key (derive it from the evidence)."""

    decision_id: uuid.UUID
    action: RolloutAction
    version: int = Field(ge=1)
    """graduate/abandon: the canary's version; rollback: the production version being rolled back."""
    previous_version: int | None = Field(default=None, ge=1)
    """graduate: production's version now (null: none); rollback: the version production returns to."""
    reason: Reason
    evidence: Evidence = Field(default_factory=dict)

    @model_validator(mode="after")
    def _previous_version_fits(self) -> Self:
        if self.action == "rollback_production" and self.previous_version is None:
            raise ValueError("rollback_production needs previous_version (the version production returns to)")
        if self.previous_version is not None and self.previous_version == self.version:
            raise ValueError("previous_version equals version")
        return self


class AliasMoveRecord(BaseModel):
    """One alias move as the registry recorded and announced it."""

    adapter: str
    alias: str
    version: int | None
    previous_version: int | None
    weight: float | None = None
    event_id: str
    moved_at: str
    moved_by: str


class RolloutDecisionAnswer(BaseModel):
    decision_id: uuid.UUID
    adapter: str
    action: RolloutAction
    version: int
    previous_version: int | None
    actor: str
    reason: str
    version_status: str
    """The status of `version` after the decision (`production` or `rejected`)."""
    moves: list[AliasMoveRecord]
    decided_at: str
    duplicate: bool


class ApprovalAnswer(BaseModel):
    """What `approve` / `reject` did to a version waiting in `pending_approval`."""

    adapter: str
    version: int
    decision: Literal["approved", "rejected"]
    status: str
    actor: str
    reason: str
    moves: list[AliasMoveRecord]
    decided_at: str


class PendingApproval(BaseModel):
    """A version that passed the gate of an `approval` adapter and waits for an admin."""

    adapter: str
    version: int
    production_version: int | None
    """What serves as `production` now: what approving would replace."""
    base_model: str
    evaluation: dict[str, Any] | None
    metrics: dict[str, Any]
    dataset_snapshot_id: str | None
    artifact_uri: str
    registered_by: str
    registered_at: str | None
