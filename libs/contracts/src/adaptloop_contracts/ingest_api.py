"""Request and answer bodies of the ingest service's HTTP API (events in, curated examples, erasures).

The event bodies of `POST /v1/logs` and `POST /v1/feedback` are the topic shapes (`InferenceLog`,
`InferenceFeedback`), one object or an array of them.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from adaptloop_contracts.base import MAX_TEXT_CHARS, AdapterName, ShortText, utc_now
from adaptloop_contracts.http_common import Answer
from adaptloop_contracts.registry_answers import FlaggedVersion
from adaptloop_contracts.trainer_api import LineageSnapshot, UnreadableSnapshot

MAX_EVENT_IDS = 10_000
"""Most event ids one erasure names."""


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("occurred_at must carry a time zone (RFC 3339, UTC)")
    return value.astimezone(UTC)


class CuratedExample(BaseModel):
    """One item of `POST /v1/examples`: a prompt and the answer the adapter should give."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    adapter: AdapterName
    prompt: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
    answer: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
    occurred_at: Annotated[datetime, AfterValidator(_aware_utc)] = Field(default_factory=utc_now)


class ErasureRequest(BaseModel):
    """`POST /v1/erasures`: exactly one of `tenant` and `event_ids`; `erasure_id` makes a retry idempotent."""

    model_config = ConfigDict(extra="forbid")

    erasure_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    tenant: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    event_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_EVENT_IDS)] | None = None
    reason: Annotated[ShortText, StringConstraints(min_length=1)]

    @model_validator(mode="after")
    def _one_subject(self) -> ErasureRequest:
        if (self.tenant is None) == (self.event_ids is None):
            raise ValueError("name exactly one subject: `tenant` or `event_ids`")
        return self

    @property
    def subject_kind(self) -> str:
        return "tenant" if self.tenant is not None else "event_ids"

    @property
    def subject_sha256(self) -> str:
        """What is kept of the subject: its digest (the erasure record holds no personal key)."""
        text = self.tenant if self.tenant is not None else ",".join(sorted(str(e) for e in self.event_ids or []))
        return hashlib.sha256(f"{self.subject_kind}:{text}".encode()).hexdigest()


class ItemRejected(Answer):
    index: int
    """Position of the item in the request's array (0 for a single object)."""
    reason: str


class EventsAccepted(Answer):
    """`POST /v1/logs`, `POST /v1/feedback` (202): what the broker acknowledged; `rejected` only when some were."""

    accepted: int
    event_ids: list[str]
    rejected: list[ItemRejected] = Field(default_factory=list)


class ExamplesImported(Answer):
    """`POST /v1/examples` (201); `rejected` only when some items were."""

    imported: int
    duplicates: int
    example_ids: list[str]
    rejected: list[ItemRejected] = Field(default_factory=list)


class ExportedExample(Answer):
    """One line of `GET /v1/examples` (JSON lines, oldest first)."""

    example_id: str
    adapter: str
    adapter_version: int | None
    prompt: str
    completion: str | None
    correction: str | None
    score: float | None
    target: str | None
    event_id: str | None
    occurred_at: str
    source: str


class ErasureSubject(Answer):
    kind: str
    sha256: str


class PreviousErasure(Answer):
    erasure_id: str
    requested_at: str


class ErasureAnswer(Answer):
    """`POST /v1/erasures`: what was removed, and the snapshots and versions whose lineage held it.

    A subject erased before answers with `already_erased` (its earlier erasures) and nothing removed; the fields
    about lineage are then absent.
    """

    erasure_id: str
    subject: ErasureSubject
    examples_removed: int
    pending_feedback_removed: int
    snapshots: list[LineageSnapshot]
    versions: list[FlaggedVersion]
    adapters: list[str] | None = None
    unreadable_snapshots: list[UnreadableSnapshot] | None = None
    regression_examples_removed: int | None = None
    already_erased: list[PreviousErasure] | None = None


class ErasureRecord(Answer):
    """One erasure of `GET /v1/erasures` (newest first); the subject only as a sha256."""

    erasure_id: str
    subject_kind: str
    subject_sha256: str
    examples_removed: int
    pending_feedback_removed: int
    requested_by: str
    requested_at: str
    snapshots: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    reason: str | None
