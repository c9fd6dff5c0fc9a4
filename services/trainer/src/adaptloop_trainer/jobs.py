"""Training jobs: one per `retrain.requested` event_id, and the port that stores them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from adaptloop_contracts import RetrainRequested, TrainingState

from adaptloop_trainer.snapshot import Example

JobKind = Literal["train", "upgrade"]


@dataclass(frozen=True)
class Job:
    job_id: uuid.UUID
    request_id: uuid.UUID
    adapter: str
    kind: JobKind
    reason: str
    state: TrainingState
    request: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    progress: float = 0.0
    base_model: str | None = None
    training_config: dict[str, Any] | None = None
    snapshot_id: str | None = None
    snapshot_sha256: str | None = None
    candidate_version: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    traceparent: str | None = None
    cancel_requested: bool = False
    attempts: int = 0

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    def retrain_request(self) -> RetrainRequested:
        return RetrainRequested.model_validate(self.request)

    def public(self) -> dict[str, Any]:
        """The job as the HTTP API shows it."""
        return {
            "job_id": str(self.job_id), "request_id": str(self.request_id), "adapter": self.adapter,
            "kind": self.kind, "reason": self.reason, "state": self.state.value, "progress": self.progress,
            "base_model": self.base_model, "training_config": self.training_config,
            "snapshot_id": self.snapshot_id, "snapshot_sha256": self.snapshot_sha256,
            "candidate_version": self.candidate_version, "metrics": self.metrics, "evaluation": self.evaluation,
            "report": self.report, "error": self.error, "cancel_requested": self.cancel_requested,
            "attempts": self.attempts, "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def job_kind_of(request: RetrainRequested) -> JobKind:
    return "upgrade" if request.reason == "base_model_upgrade" else "train"


class JobStore(Protocol):
    """Durable job records; `create_or_get` is idempotent on the request's event_id."""

    def ping(self) -> None:
        """Raise if the store cannot be reached (the runner waits on it after an outage)."""

    def create_or_get(self, request: RetrainRequested, *, traceparent: str | None) -> tuple[Job, bool]: ...

    def get(self, job_id: uuid.UUID) -> Job | None: ...

    def list_jobs(self, *, adapter: str | None = None, limit: int = 100) -> list[Job]: ...

    def unfinished(self) -> list[Job]: ...

    def update(self, job_id: uuid.UUID, **fields: Any) -> Job: ...

    def request_cancel(self, job_id: uuid.UUID) -> Job | None: ...

    def regression_set(self, adapter: str) -> list[Example]: ...

    def pin_regression(self, adapter: str, examples: Sequence[Example], *, snapshot_sha256: str) -> int: ...

    def forget_regression(self, adapters: Sequence[str], keys: Sequence[str]) -> int: ...
