"""In-memory stand-ins for the trainer's ports (job store, registry, ingest export, events)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from adaptloop_contracts import RetrainRequested, TrainingEvent, TrainingState
from adaptloop_contracts.eval_suites import EvalSuiteRecord
from adaptloop_contracts.ingest_api import ExportedExample
from adaptloop_contracts.registry_answers import (
    AdapterRecord,
    ArtifactStored,
    BaseModelRecord,
    Registration,
    VersionRecord,
)
from adaptloop_contracts.registry_requests import VersionSpec
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


def base_model_record(name: str, **fields: Any) -> BaseModelRecord:
    """The registry's answer for base model `name`: the fields a test names, plain values for the rest
    (an empty `weights_sha256` is not checked against the model's files)."""
    return BaseModelRecord.model_validate({"version": "1", "location": f"models/{name}", "weights_sha256": "",
                                           "successor_of": None, "created_by": "test", "created_at": None,
                                           **fields, "name": name})


def adapter_record(name: str, base_model: str, **fields: Any) -> AdapterRecord:
    """The registry's answer for adapter `name`: the fields a test names, plain values for the rest."""
    return AdapterRecord.model_validate({
        "training_config": {}, "promotion_policy": {"mode": "manual", "canary_weight": 0.1, "canary_min_requests": 100},
        "aliases": {}, "latest_version": None, "created_by": "test", "created_at": None,
        **fields, "name": name, "base_model": base_model})


def _version_fields(adapter: str, version: int, fields: dict[str, Any]) -> dict[str, Any]:
    weights = fields.get("weights_sha256", "")
    out: dict[str, Any] = {
        "status": "candidate", "weights_sha256": weights, "weights_size": None, "config_sha256": "",
        "sha256": weights, "artifact_uri": "", "config_uri": "", "base_model": "", "dataset_snapshot_id": None,
        "dataset_sha256": None, "training_config": None, "seed": None, "code_revision": None,
        "parent_version": None, "metrics": None, "evaluation": None, "suites": [], "served_requests": None,
        "served_tokens": None, "load_failures": 0, "request_id": None, "registered_by": "test",
        "registered_at": None, "retired_by": None, "retired_at": None, "erasure_pending": False, "erasures": [],
        **fields, "adapter": adapter, "version": version,
    }
    out.setdefault("lineage", {key: out[key] for key in ("base_model", "parent_version", "dataset_snapshot_id",
                                                          "dataset_sha256", "code_revision", "seed")})
    if isinstance(out["evaluation"], dict):
        out["evaluation"] = {"recorded_by": "test", "recorded_at": None, **out["evaluation"]}
    return out


def version_record(adapter: str, version: int, **fields: Any) -> VersionRecord:
    """The registry's answer for version `version` of `adapter`: the fields a test names, plain values for the rest."""
    return VersionRecord.model_validate(_version_fields(adapter, version, fields))


class FakeRegistry:
    """Answers with the registry's contract models; tests fill it with the builders above."""

    def __init__(self) -> None:
        self.base_models: dict[str, BaseModelRecord] = {}
        self.adapter_records: dict[str, AdapterRecord] = {}
        self.artifacts: dict[str, bytes] = {}
        self.registered: dict[str, list[VersionRecord]] = {}
        self.suites: dict[str, list[EvalSuiteRecord]] = {}

    def adapter(self, name: str) -> AdapterRecord | None:
        return self.adapter_records.get(name)

    def adapters(self) -> list[AdapterRecord]:
        return list(self.adapter_records.values())

    def base_model(self, name: str) -> BaseModelRecord | None:
        return self.base_models.get(name)

    def version(self, name: str, number: int) -> VersionRecord | None:
        for record in self.registered.get(name, []):
            if record.version == number:
                return record
        return None

    def versions(self, name: str) -> list[VersionRecord]:
        return list(self.registered.get(name, []))

    def upload_artifact(self, data: bytes, filename: str) -> ArtifactStored:
        sha = hashlib.sha256(data).hexdigest()
        self.artifacts[sha] = data
        return ArtifactStored(sha256=sha, size=len(data), kind="weights", uri=f"artifacts/{sha}")

    def download_artifact(self, sha256: str) -> bytes:
        return self.artifacts[sha256]

    def eval_suites(self, name: str) -> list[EvalSuiteRecord]:
        return list(self.suites.get(name, []))

    def register_version(self, name: str, spec: VersionSpec) -> Registration:
        body = spec.model_dump(mode="json")
        versions = self.registered.setdefault(name, [])
        for existing in versions:
            if existing.request_id == spec.request_id and isinstance(existing, Registration):
                return existing
        record = Registration.model_validate({**_version_fields(name, len(versions) + 1, body),
                                              "aliases": {}, "moves": []})
        versions.append(record)
        return record


def exported_example(prompt: str, target: str | None, **fields: Any) -> ExportedExample:
    """One line of ingest's export: the fields a test names, plain values for the rest (`occurred_at` may be a
    datetime)."""
    at = fields.pop("occurred_at", datetime(2026, 1, 1, tzinfo=UTC))
    return ExportedExample.model_validate({
        "example_id": str(uuid.uuid4()), "adapter": "support", "adapter_version": None, "completion": target,
        "correction": None, "score": None, "event_id": None, "source": "import",
        "occurred_at": at.isoformat() if isinstance(at, datetime) else at,
        **fields, "prompt": prompt, "target": target})


class FakeExamples:
    """Rows (the fields of `exported_example`) come out as export lines; rows with an `occurred_at` are
    filtered like ingest does (`since <= occurred_at < until`)."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.rows = rows or {}
        self.exports: list[tuple[str, datetime | None, datetime | None]] = []

    def export(self, adapter: str, *, since: datetime | None, until: datetime | None) -> Iterator[ExportedExample]:
        self.exports.append((adapter, since, until))
        for row in self.rows.get(adapter, []):
            at = row.get("occurred_at")
            if isinstance(at, datetime) and ((since is not None and at < since) or (until is not None and at >= until)):
                continue
            yield exported_example(**{"adapter": adapter, **row})


class RecordedEvents:
    def __init__(self) -> None:
        self.events: list[TrainingEvent] = []
        self.requests: list[RetrainRequested] = []

    def job_event(self, event: TrainingEvent) -> None:
        self.events.append(event)

    def retrain_requested(self, request: RetrainRequested) -> None:
        self.requests.append(request)
