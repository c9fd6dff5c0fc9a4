"""The example store's domain: what an example is, how it is keyed, and what a trainer learns from it."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from adaptloop_common.redaction import Redactor
from adaptloop_contracts import InferenceFeedback, InferenceLog, adapter_of
from adaptloop_contracts.ingest_api import CuratedExample

Source = Literal["log", "import"]
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The form two texts are compared in: NFKC, case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_key(prompt: str, answer: str) -> str:
    """Identifies an example by its normalised prompt and answer (duplicates share it)."""
    digest = hashlib.sha256()
    digest.update(normalise(prompt).encode("utf-8"))
    digest.update(b"\x00")
    digest.update(normalise(answer).encode("utf-8"))
    return digest.hexdigest()


def target_of(completion: str | None, correction: str | None, score: float | None) -> str | None:
    """What to learn: the correction if any, else a well-rated (score > 0) completion, else nothing."""
    if correction is not None:
        return correction
    if completion is not None and score is not None and score > 0:
        return completion
    return None


@dataclass(frozen=True)
class ExampleDraft:
    """An example about to be stored: already redacted and keyed."""

    example_id: uuid.UUID
    adapter: str
    model: str | None
    adapter_version: int | None
    source: Source
    event_id: uuid.UUID | None
    prompt: str
    completion: str | None
    correction: str | None
    content_key: str
    occurred_at: datetime
    tenant: str | None = None
    """The log's `tenant`: what an erasure by subject matches."""


@dataclass(frozen=True)
class Rating:
    """A redacted feedback event, waiting for or applied to the example of its log."""

    event_id: uuid.UUID
    inference_event_id: uuid.UUID
    model: str
    score: float
    correction: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class StoredExample:
    """One exported example, as the trainer reads it."""

    example_id: uuid.UUID
    adapter: str
    adapter_version: int | None
    source: str
    prompt: str
    completion: str | None
    correction: str | None
    score: float | None
    event_id: uuid.UUID | None
    occurred_at: datetime

    @property
    def target(self) -> str | None:
        return target_of(self.completion, self.correction, self.score)

    def as_json_dict(self) -> dict[str, Any]:
        return {
            "example_id": str(self.example_id),
            "adapter": self.adapter,
            "adapter_version": self.adapter_version,
            "prompt": self.prompt,
            "completion": self.completion,
            "correction": self.correction,
            "score": self.score,
            "target": self.target,
            "event_id": None if self.event_id is None else str(self.event_id),
            "occurred_at": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "source": self.source,
        }


StoreOutcome = Literal["stored", "duplicate_event", "duplicate_content", "attached", "pending", "not_kept"]


def _storable(text: str, redactor: Redactor) -> str:
    """Redacted, and without NUL characters (valid JSON, but PostgreSQL text cannot hold them)."""
    return redactor.redact(text.replace("\x00", ""))


def draft_from_log(log: InferenceLog, redactor: Redactor) -> ExampleDraft:
    prompt = _storable(log.prompt, redactor)
    completion = _storable(log.completion, redactor)
    return ExampleDraft(
        example_id=log.event_id,
        adapter=adapter_of(log.model),
        model=log.model,
        adapter_version=log.adapter_version,
        source="log",
        event_id=log.event_id,
        prompt=prompt,
        completion=completion,
        correction=None,
        content_key=content_key(prompt, completion),
        occurred_at=log.occurred_at,
        tenant=log.tenant,
    )


def draft_from_curated(item: CuratedExample, redactor: Redactor) -> ExampleDraft:
    """A curated answer is stored as the correction: it is what the adapter should have said."""
    prompt = _storable(item.prompt, redactor)
    answer = _storable(item.answer, redactor)
    return ExampleDraft(
        example_id=uuid.uuid4(),
        adapter=item.adapter,
        model=None,
        adapter_version=None,
        source="import",
        event_id=None,
        prompt=prompt,
        completion=None,
        correction=answer,
        content_key=content_key(prompt, answer),
        occurred_at=item.occurred_at,
    )


def rating_from_feedback(feedback: InferenceFeedback, redactor: Redactor) -> Rating:
    return Rating(
        event_id=feedback.event_id,
        inference_event_id=feedback.inference_event_id,
        model=feedback.model,
        score=feedback.score,
        correction=None if feedback.correction is None else _storable(feedback.correction, redactor) or None,
        occurred_at=feedback.occurred_at,
    )
