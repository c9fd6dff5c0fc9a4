"""`drift.detected`: a detector's alarm on one signal of one adapter version."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Literal

from pydantic import Field

from adaptloop_contracts.base import Event, Metadata, ShortText

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
