"""Handlers: what ingest does with a submitted batch, a consumed event and a curated import.

They take their dependencies as keyword arguments and know nothing of HTTP or Kafka loops.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from adaptloop_common.privacy import PrivacyMode, PrivacyPolicy
from adaptloop_contracts import Event, InferenceFeedback, InferenceLog, adapter_of
from adaptloop_contracts.inference import INFERENCE_FEEDBACK, INFERENCE_LOGS
from adaptloop_kafka import ConsumedEvent
from opentelemetry import trace

from adaptloop_ingest.errors import BatchRejected
from adaptloop_ingest.examples import (
    CuratedExample,
    StoreOutcome,
    draft_from_curated,
    draft_from_log,
    rating_from_feedback,
)
from adaptloop_ingest.metrics import REJECTED, STORED, SUBMITTED
from adaptloop_ingest.ports import ExampleRepository, Publisher
from adaptloop_ingest.submission import Rejection, parse_items, triage_events, triage_models

log = logging.getLogger(__name__)
tracer = trace.get_tracer("adaptloop.ingest")



@dataclass(frozen=True)
class SubmitResult:
    event_ids: list[uuid.UUID]
    rejected: list[Rejection] = field(default_factory=list)

    def as_json_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"accepted": len(self.event_ids), "event_ids": [str(e) for e in self.event_ids]}
        if self.rejected:
            body["rejected"] = [r.as_dict() for r in self.rejected]
        return body


@dataclass(frozen=True)
class ImportResult:
    example_ids: list[uuid.UUID]
    imported: int
    duplicates: int
    rejected: list[Rejection] = field(default_factory=list)

    def as_json_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "example_ids": [str(e) for e in self.example_ids],
        }
        if self.rejected:
            body["rejected"] = [r.as_dict() for r in self.rejected]
        return body


TOPIC_EVENT_TYPES: dict[str, type[Event]] = {INFERENCE_LOGS: InferenceLog, INFERENCE_FEEDBACK: InferenceFeedback}


def scrub_event(event: Event, privacy: PrivacyPolicy) -> Event:
    """The event as it may be published: its free text redacted by its adapter's privacy mode."""
    if isinstance(event, InferenceLog):
        return privacy.scrub_log(event)
    if isinstance(event, InferenceFeedback):
        return privacy.scrub_feedback(event)
    return event


async def submit_events(
    body: bytes, *, topic_base: str, publisher: Publisher, max_items: int, privacy: PrivacyPolicy
) -> SubmitResult:
    """Validate and redact each item, publish the valid ones and return once the broker acknowledged all."""
    with tracer.start_as_current_span(f"submit_events {topic_base}") as span:
        triage = triage_events(parse_items(body, max_items=max_items), TOPIC_EVENT_TYPES[topic_base])
        REJECTED.labels(topic_base).inc(len(triage.rejected))
        span.set_attribute("adaptloop.accepted", len(triage.accepted))
        span.set_attribute("adaptloop.rejected", len(triage.rejected))
        if not triage.accepted:
            raise BatchRejected([r.as_dict() for r in triage.rejected])
        events = [scrub_event(event, privacy) for _, event in triage.accepted]
        await publisher.publish(topic_base, events)
        SUBMITTED.labels(topic_base).inc(len(events))
        return SubmitResult([e.event_id for e in events], triage.rejected)


def store_consumed_event(consumed: ConsumedEvent, *, store: ExampleRepository, privacy: PrivacyPolicy
                         ) -> StoreOutcome:
    """Redact a consumed log or rating and record it; repeated deliveries change nothing.

    A log of an adapter in `drop` mode is not kept: its text was not published, nothing to learn.
    """
    event = consumed.event
    with tracer.start_as_current_span("store_consumed_event") as span:
        span.set_attribute("adaptloop.event_id", str(event.event_id))
        if isinstance(event, InferenceLog):
            adapter = adapter_of(event.model)
            if privacy.mode_for(adapter) is PrivacyMode.DROP:
                outcome: StoreOutcome = "not_kept"
            else:
                outcome = store.add_log(draft_from_log(event, privacy.redactor(adapter)))
        elif isinstance(event, InferenceFeedback):
            outcome = store.add_rating(rating_from_feedback(event, privacy.redactor(adapter_of(event.model))))
        else:  # the consumer subscribes to the two topics above only
            raise TypeError(f"unexpected event type {event.event_type!r} on {consumed.topic_base}")
        span.set_attribute("adaptloop.outcome", outcome)
    STORED.labels(outcome).inc()
    return outcome


def import_curated(body: bytes, *, store: ExampleRepository, privacy: PrivacyPolicy, max_items: int) -> ImportResult:
    """Validate, redact and store curated `{adapter, prompt, answer}` items."""
    with tracer.start_as_current_span("import_curated"):
        triage = triage_models(parse_items(body, max_items=max_items), CuratedExample.model_validate)
        if not triage.accepted:
            raise BatchRejected([r.as_dict() for r in triage.rejected])
        drafts = [draft_from_curated(item, privacy.storing_redactor(item.adapter)) for _, item in triage.accepted]
        results = store.add_curated(drafts)
        imported = sum(1 for _, inserted in results if inserted)
        return ImportResult([example_id for example_id, _ in results], imported, len(results) - imported,
                            triage.rejected)
