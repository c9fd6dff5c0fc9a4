"""Answer bodies of the registry's HTTP API: base models, adapters, versions, aliases, artifacts, audit, tokens.

Serving reports, rollout decisions and approvals are in `registry_api`; the serving plan in `serving_plan`.
"""

from __future__ import annotations

from typing import Any, Literal

from adaptloop_contracts.http_common import Answer
from adaptloop_contracts.registry_api import AliasMoveRecord


class BaseModelRecord(Answer):
    name: str
    version: str
    location: str
    weights_sha256: str
    successor_of: str | None
    created_by: str
    created_at: str | None


class PromotionPolicyView(Answer):
    mode: str
    canary_weight: float
    canary_min_requests: int


class AdapterRecord(Answer):
    name: str
    base_model: str
    training_config: dict[str, Any]
    promotion_policy: PromotionPolicyView
    aliases: dict[str, int]
    """alias -> version."""
    latest_version: int | None
    created_by: str
    created_at: str | None


class EvaluationRecord(Answer):
    passed: bool
    metrics: dict[str, Any]
    verdict: str | None
    recorded_by: str | None
    recorded_at: str | None


class Lineage(Answer):
    base_model: str
    parent_version: int | None
    dataset_snapshot_id: str | None
    dataset_sha256: str | None
    code_revision: str | None
    seed: int | None


class ErasureFlag(Answer):
    erasure_id: str
    cause: str
    reason: str
    flagged_by: str
    flagged_at: str | None


class VersionRecord(Answer):
    """`GET /v1/adapters/{name}/versions/{n}`: one version with its artifacts, evaluation and lineage."""

    adapter: str
    version: int
    status: str
    weights_sha256: str
    weights_size: int | None
    config_sha256: str
    sha256: str
    """= `weights_sha256`."""
    artifact_uri: str
    config_uri: str
    base_model: str
    dataset_snapshot_id: str | None
    dataset_sha256: str | None
    training_config: dict[str, Any] | None
    seed: int | None
    code_revision: str | None
    parent_version: int | None
    metrics: dict[str, Any] | None
    evaluation: EvaluationRecord | None
    lineage: Lineage
    suites: list[dict[str, Any]]
    """The gate's per-suite results (`metrics.suites` of the evaluation), by suite name."""
    served_requests: int | None
    served_tokens: int | None
    load_failures: int
    request_id: str | None
    registered_by: str
    registered_at: str | None
    retired_by: str | None
    retired_at: str | None
    erasure_pending: bool
    erasures: list[ErasureFlag]


class Registration(VersionRecord):
    """`POST /v1/adapters/{name}/versions`: the version, the adapter's aliases now and the moves it caused."""

    aliases: dict[str, int]
    moves: list[AliasMoveRecord]


class AliasRecord(Answer):
    """`GET /v1/adapters/{name}/aliases/{alias}`."""

    adapter: str
    alias: str
    version: int
    weight: float | None
    updated_by: str
    updated_at: str | None


class AliasHistoryEntry(Answer):
    """One move in `GET .../aliases/{alias}/history` (oldest first)."""

    alias: str
    from_version: int | None
    to_version: int | None
    weight: float | None
    actor: str
    reason: str
    event_id: str
    moved_at: str | None
    details: dict[str, Any]


class LoadFailureRecorded(Answer):
    adapter: str
    version: int
    recorded: bool


class ServedAnswer(Answer):
    """`POST .../versions/{n}/served`: the version's total now and the canary moves the count caused."""

    version: int
    served_requests: int
    moves: list[AliasMoveRecord]


class ArtifactStored(Answer):
    """`PUT /v1/artifacts/{sha256}`: 201 stored now, 200 stored before."""

    sha256: str
    size: int
    kind: str
    uri: str


class AuditEntry(Answer):
    id: int
    actor: str
    action: str
    target: str
    details: dict[str, Any] | None
    at: str | None


class ScopedToken(Answer):
    """`POST /v1/tokens`: the token (shown once) and the `actor:role:sha256:adapters` entry for `..._TOKENS`."""

    actor: str
    role: Literal["reader", "trainer", "admin"]
    adapters: list[str]
    token: str
    entry: str


class FlaggedVersion(Answer):
    adapter: str
    version: int
    status: str
    cause: str


class ErasureFlagged(Answer):
    """`POST /v1/erasures`: every version whose lineage holds the erased snapshots (retired ones included)."""

    erasure_id: str
    versions: list[FlaggedVersion]
