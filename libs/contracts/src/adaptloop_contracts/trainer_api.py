"""Request and answer bodies of the trainer's HTTP API: jobs, upgrade reports, cost ledgers, erasure lineage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from adaptloop_contracts.base import AdapterName, ModelName
from adaptloop_contracts.http_common import Answer

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
MAX_LINEAGE_ITEMS = 100_000
Number = int | float


class JobRequest(BaseModel):
    """`POST /v1/jobs`: train an adapter now (or move it to a new base model)."""

    model_config = ConfigDict(extra="forbid")

    adapter: ModelName
    """The adapter to train; for `base_model_upgrade`, an adapter or the old base model's name."""
    reason: Literal["manual", "base_model_upgrade"] = "manual"
    base_model: str | None = None
    training_config: dict[str, Any] = Field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None


class LineageQuery(BaseModel):
    """`POST /v1/erasures/lineage` (sent by ingest): which snapshots held these examples."""

    model_config = ConfigDict(extra="forbid")

    erasure_id: uuid.UUID
    adapters: Annotated[list[AdapterName], Field(min_length=1, max_length=1000)]
    example_ids: Annotated[list[uuid.UUID], Field(max_length=MAX_LINEAGE_ITEMS)] = Field(default_factory=list)
    keys: Annotated[list[Sha256], Field(max_length=MAX_LINEAGE_ITEMS)] = Field(default_factory=list)
    """Snapshot keys (sha256 of prompt and answer) of the erased examples."""


class JobRecord(Answer):
    """A training job as `GET /v1/jobs/{id}` shows it."""

    job_id: str
    request_id: str
    adapter: str
    kind: str
    """`train` or `upgrade`."""
    reason: str
    state: str
    """queued | running | succeeded | failed | cancelled | rejected."""
    progress: Number
    base_model: str | None
    training_config: dict[str, Any] | None
    snapshot_id: str | None
    snapshot_sha256: str | None
    candidate_version: int | None
    metrics: dict[str, Any] | None
    evaluation: dict[str, Any] | None
    report: dict[str, Any] | None
    error: str | None
    cancel_requested: bool
    attempts: int
    created_at: str
    updated_at: str


class JobList(Answer):
    """`GET /v1/jobs`: newest first."""

    jobs: list[JobRecord]


class JobConflict(Answer):
    """`POST /v1/jobs/{id}/cancel` on a finished job (409)."""

    detail: str
    job: JobRecord


class UpgradeReport(Answer):
    """`GET /v1/upgrades/{id}`: how a base-model upgrade went (`report` holds per-adapter results)."""

    job_id: str
    state: str
    error: str | None
    report: dict[str, Any]


class JobCost(Answer):
    """One job of an adapter's cost ledger."""

    job_id: str
    version: int | None
    state: str
    reason: str
    mode: str | None
    requested_at: str
    finished_at: str | None
    training_seconds: Number | None
    preparation_seconds: Number | None
    evaluation_seconds: Number | None
    examples_trained: Number | None
    tokens_trained: Number | None
    gate_passed: bool | None
    quality_gained: Number | None
    requests_served: int | None
    """Requests the version served (null: no version, or the registry does not know)."""
    tokens_served: int | None


class CostTotals(Answer):
    retrains: int
    succeeded: int
    training_seconds: Number
    evaluation_seconds: Number
    examples_trained: Number
    tokens_trained: Number
    requests_served: int
    tokens_served: int
    mean_quality_gained: float | None


class RecentCosts(Answer):
    retrains: int
    training_seconds: Number


class AdapterCosts(Answer):
    """`GET /v1/adapters/{name}/costs`: per job and version, totals and the last 24 hours."""

    adapter: str
    totals: CostTotals
    last_24h: RecentCosts
    versions: list[JobCost]


class LineageSnapshot(Answer):
    adapter: str
    snapshot_id: str | None
    sha256: str
    examples: int
    """Erased examples the snapshot holds."""
    jobs: list[str]
    candidate_versions: list[int]


class UnreadableSnapshot(Answer):
    adapter: str
    sha256: str
    error: str


class LineageAnswer(Answer):
    """`POST /v1/erasures/lineage`: the snapshots holding the erased examples, with their jobs and versions."""

    erasure_id: str
    snapshots: list[LineageSnapshot]
    unreadable_snapshots: list[UnreadableSnapshot]
    regression_examples_removed: int
