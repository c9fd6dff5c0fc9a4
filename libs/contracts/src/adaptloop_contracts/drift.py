"""`drift.detected`: a detector's alarm on one signal of one adapter version; `SetPaused`: the drift
service's pause/resume command for one adapter's retrain requests."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from adaptloop_contracts.base import (
    AdapterName,
    Event,
    InvalidEvent,
    Metadata,
    ShortText,
    describe_validation_error,
    json_object,
)

DRIFT_DETECTED = "drift.detected"

Severity = Literal["low", "medium", "high"]


class DriftDetected(Event):
    EVENT_TYPES: ClassVar[tuple[str, ...]] = ("drift.detected",)

    event_type: Literal["drift.detected"] = "drift.detected"
    adapter_version: int | None = Field(default=None, ge=1)
    signal: ShortText
    detector: ShortText
    trigger_event_id: uuid.UUID
    observations: int = Field(ge=0)
    evidence: Metadata = Field(default_factory=dict)
    severity: Severity = "medium"

    def evidence_value(self, key: str) -> Any:
        return self.evidence.get(key)


class SetPaused(BaseModel):
    """Pause (`paused: true`) or resume the drift policy's retrain requests for one adapter; detection goes on.

    The drift API's `POST /v1/adapters/{name}/pause` / `resume` sends it on the service's internal control
    topic (`<app id>.control`, keyed by adapter); the policy agent applies it to the adapter's policy state.
    """

    model_config = ConfigDict(frozen=True)

    adapter: AdapterName
    paused: StrictBool
    actor: ShortText
    """Who asked (the caller's token actor), for the log."""

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json_bytes(cls, raw: bytes | str | None) -> Self:
        """Decode and validate; every failure becomes `InvalidEvent` with a readable reason."""
        try:
            return cls.model_validate(json_object(raw))
        except ValidationError as exc:
            raise InvalidEvent(describe_validation_error(exc)) from exc
