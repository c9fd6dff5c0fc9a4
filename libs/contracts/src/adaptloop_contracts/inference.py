"""`inference.logs` and `inference.feedback`: what was asked, answered and how it was rated."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from adaptloop_contracts.base import Event, LongText, Metadata, ShortText

INFERENCE_LOGS = "inference.logs"
INFERENCE_FEEDBACK = "inference.feedback"


class InferenceLog(Event):
    EVENT_TYPES: ClassVar[tuple[str, ...]] = ("inference.log",)

    event_type: Literal["inference.log"] = "inference.log"
    request_id: ShortText
    adapter_version: int | None = Field(default=None, ge=1)
    base_model: ShortText
    tenant: ShortText | None = None
    prompt: LongText
    completion: LongText
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    latency_ms: float = Field(ge=0)
    mean_logprob: float | None = Field(default=None, le=0)
    metadata: Metadata = Field(default_factory=dict)


class InferenceFeedback(Event):
    EVENT_TYPES: ClassVar[tuple[str, ...]] = ("inference.feedback",)

    event_type: Literal["inference.feedback"] = "inference.feedback"
    inference_event_id: uuid.UUID
    score: float = Field(ge=-1.0, le=1.0)
    correction: LongText | None = None
    metadata: Metadata = Field(default_factory=dict)
