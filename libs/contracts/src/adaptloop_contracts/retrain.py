"""`retrain.requested`: a command to train a new version; its `event_id` is the idempotency key."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from adaptloop_contracts.base import Event, Metadata, ShortText

RETRAIN_REQUESTED = "retrain.requested"

RetrainReason = Literal["drift", "manual", "base_model_upgrade"]


class RetrainRequested(Event):
    EVENT_TYPES: ClassVar[tuple[str, ...]] = ("retrain.requested",)

    event_type: Literal["retrain.requested"] = "retrain.requested"
    reason: RetrainReason
    drift_event_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    base_model: ShortText | None = None
    requested_by: ShortText
    since: datetime | None = None
    """Oldest example to train on (optional; the trainer's default window otherwise)."""
    until: datetime | None = None
    drift_started_at: datetime | None = None
    """When the drift behind the request began (the earliest alarm of the episode); an incremental
    retrain's default window starts there when that is earlier than the parent's snapshot end."""
    training_config: Metadata = Field(default_factory=dict)
    """Overrides of the adapter's default training configuration."""
