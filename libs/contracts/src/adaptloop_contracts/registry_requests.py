"""Request bodies of the registry's HTTP API (what callers send it); its answers are in `registry_answers`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from adaptloop_contracts.base import AdapterName

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
BaseModelName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
AliasName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z][a-z0-9_-]*$")]
Label = Annotated[str, StringConstraints(max_length=200)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=1000)]

PromotionMode = Literal["manual", "auto", "canary", "approval"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseModelSpec(_Input):
    name: BaseModelName
    version: Label
    location: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    weights_sha256: Sha256
    successor_of: BaseModelName | None = None
    reason: Reason | None = None


class PromotionPolicy(_Input):
    """How a newly registered version reaches traffic: by hand, straight to production, via a canary, or
    after an admin's approval."""

    mode: PromotionMode = "manual"
    canary_weight: float = Field(default=0.1, gt=0.0, le=1.0)
    canary_min_requests: int = Field(default=100, ge=1)


class AdapterSpec(_Input):
    name: AdapterName
    base_model: BaseModelName
    training_config: dict[str, Any] = Field(default_factory=dict)
    promotion_policy: PromotionPolicy = Field(default_factory=PromotionPolicy)
    reason: Reason | None = None


class PolicyChange(_Input):
    promotion_policy: PromotionPolicy


class EvaluationSpec(_Input):
    passed: bool
    metrics: dict[str, Any] = Field(default_factory=dict)
    verdict: Annotated[str, StringConstraints(max_length=4000)] | None = None


class VersionSpec(_Input):
    weights_sha256: Sha256
    config_sha256: Sha256
    base_model: BaseModelName | None = None
    dataset_snapshot_id: Label | None = None
    dataset_sha256: Sha256 | None = None
    training_config: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    code_revision: Label | None = None
    parent_version: int | None = Field(default=None, ge=1)
    metrics: dict[str, Any] = Field(default_factory=dict)
    evaluation: EvaluationSpec | None = None
    request_id: Label | None = None
    reason: Reason | None = None
    """Why (recorded in the audit trail), e.g. for a version imported by hand."""


class AliasMove(_Input):
    version: int = Field(ge=1)
    expected_version: int | None = Field(ge=1)
    """The version the caller believes the alias points at now (null: the alias must not exist yet)."""
    reason: Reason
    weight: float | None = Field(default=None, ge=0.0, le=1.0)


class ReasonBody(_Input):
    reason: Reason


class LoadFailure(_Input):
    replica: Label
    reason: Reason


class ServedReport(_Input):
    """Requests a version served since the last report, and whether its quality dropped."""

    requests: int = Field(ge=0)
    quality_drop: bool = False
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None


class ScopedTokenRequest(_Input):
    """`POST /v1/tokens`: a new bearer token limited to registered adapters."""

    actor: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]
    role: Literal["reader", "trainer", "admin"]
    adapters: Annotated[list[AdapterName], Field(min_length=1, max_length=100)]


class SnapshotRef(_Input):
    adapter: AdapterName
    sha256: Sha256
    """The dataset snapshot (`dataset_sha256` of the versions trained on it)."""


class ErasureFlags(_Input):
    """`POST /v1/erasures` (sent by ingest): flag the versions trained on these snapshots."""

    erasure_id: uuid.UUID
    reason: Reason
    snapshots: Annotated[list[SnapshotRef], Field(max_length=10_000)]
