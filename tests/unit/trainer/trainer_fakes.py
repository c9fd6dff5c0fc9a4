"""In-memory stand-ins for the trainer's ports (job store, registry, ingest export, events)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from adaptloop_contracts import RetrainRequested, TrainingEvent, TrainingState
from adaptloop_trainer.jobs import Job, job_kind_of
from adaptloop_trainer.snapshot import Example


class InMemoryJobStore:
    def __init__(self) -> None:
        self.jobs: dict[uuid.UUID, Job] = {}
        self.regression: dict[str, dict[str, Example]] = {}

    def ping(self) -> None:
        pass

    def create_or_get(self, request: RetrainRequested, *, traceparent: str | None) -> tuple[Job, bool]:
        for job in self.jobs.values():
            if job.request_id == request.event_id:
                return job, False
        now = datetime.now(UTC)
        job = Job(job_id=uuid.uuid4(), request_id=request.event_id, adapter=request.model,
                  kind=job_kind_of(request), reason=request.reason, state=TrainingState.QUEUED,
                  request=request.model_dump(mode="json"), created_at=now, updated_at=now,
                  base_model=request.base_model, traceparent=traceparent)
        self.jobs[job.job_id] = job
        return job, True

    def get(self, job_id: uuid.UUID) -> Job | None:
        return self.jobs.get(job_id)

    def list_jobs(self, *, adapter: str | None = None, limit: int = 100) -> list[Job]:
        return [j for j in self.jobs.values() if adapter in (None, j.adapter)][:limit]

    def unfinished(self) -> list[Job]:
        return [j for j in self.jobs.values() if not j.is_final]

    def update(self, job_id: uuid.UUID, **fields: Any) -> Job:
        job = replace(self.jobs[job_id], **fields, updated_at=datetime.now(UTC))
        self.jobs[job_id] = job
        return job

    def request_cancel(self, job_id: uuid.UUID) -> Job | None:
        return self.update(job_id, cancel_requested=True) if job_id in self.jobs else None

    def regression_set(self, adapter: str) -> list[Example]:
        return sorted(self.regression.get(adapter, {}).values(), key=lambda e: e.key)

    def pin_regression(self, adapter: str, examples: Sequence[Example], *, snapshot_sha256: str) -> int:
        bucket = self.regression.setdefault(adapter, {})
        new = [e for e in examples if e.key not in bucket]
        bucket.update({e.key: e for e in new})
        return len(new)

    def forget_regression(self, adapters: Sequence[str], keys: Sequence[str]) -> int:
        gone = 0
        for adapter in adapters:
            bucket = self.regression.get(adapter, {})
            for key in set(keys) & set(bucket):
                del bucket[key]
                gone += 1
        return gone


class FakeRegistry:
    def __init__(self) -> None:
        self.base_models: dict[str, dict[str, Any]] = {}
        self.adapter_records: dict[str, dict[str, Any]] = {}
        self.artifacts: dict[str, bytes] = {}
        self.registered: dict[str, list[dict[str, Any]]] = {}
        self.suites: dict[str, list[dict[str, Any]]] = {}

    def adapter(self, name: str) -> dict[str, Any] | None:
        return self.adapter_records.get(name)

    def adapters(self) -> list[dict[str, Any]]:
        return list(self.adapter_records.values())

    def base_model(self, name: str) -> dict[str, Any] | None:
        return self.base_models.get(name)

    def version(self, name: str, number: int) -> dict[str, Any] | None:
        for body in self.registered.get(name, []):
            if body["version"] == number:
                return body
        return None

    def versions(self, name: str) -> list[dict[str, Any]]:
        return list(self.registered.get(name, []))

    def upload_artifact(self, data: bytes, filename: str) -> dict[str, Any]:
        sha = hashlib.sha256(data).hexdigest()
        self.artifacts[sha] = data
        return {"sha256": sha, "size": len(data)}

    def download_artifact(self, sha256: str) -> bytes:
        return self.artifacts[sha256]

    def eval_suites(self, name: str) -> list[dict[str, Any]]:
        return list(self.suites.get(name, []))

    def register_version(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        versions = self.registered.setdefault(name, [])
        for existing in versions:
            if existing["request_id"] == body["request_id"]:
                return existing
        record = {**body, "version": len(versions) + 1}
        versions.append(record)
        return record


class FakeExamples:
    """Rows with an `occurred_at` are filtered like ingest does (`since <= occurred_at < until`)."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.rows = rows or {}
        self.exports: list[tuple[str, datetime | None, datetime | None]] = []

    def export(self, adapter: str, *, since: datetime | None, until: datetime | None) -> Iterator[dict[str, Any]]:
        self.exports.append((adapter, since, until))
        for row in self.rows.get(adapter, []):
            at = row.get("occurred_at")
            if isinstance(at, datetime) and ((since is not None and at < since) or (until is not None and at >= until)):
                continue
            yield row


class RecordedEvents:
    def __init__(self) -> None:
        self.events: list[TrainingEvent] = []
        self.requests: list[RetrainRequested] = []

    def job_event(self, event: TrainingEvent) -> None:
        self.events.append(event)

    def retrain_requested(self, request: RetrainRequested) -> None:
        self.requests.append(request)
