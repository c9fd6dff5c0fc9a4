"""`training.events`: the life of one training job, published at every state change and as progress."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field, model_validator

from adaptloop_contracts.base import Event, LongText, Metadata

TRAINING_EVENTS = "training.events"


class TrainingState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        return self not in (TrainingState.QUEUED, TrainingState.RUNNING)


class TrainingEvent(Event):
    EVENT_TYPES: ClassVar[tuple[str, ...]] = (
        *(f"training.{s.value}" for s in TrainingState),
        "training.progress",
    )

    job_id: uuid.UUID
    request_id: uuid.UUID
    state: TrainingState
    progress: float = Field(default=0.0, ge=0.0, le=1.0)
    metrics: Metadata = Field(default_factory=dict)
    candidate_version: int | None = Field(default=None, ge=1)
    error: LongText | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_event_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and "event_type" not in data and "state" in data:
            data = {**data, "event_type": f"training.{TrainingState(data['state']).value}"}
        return data
