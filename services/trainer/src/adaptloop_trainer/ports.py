"""What the domain needs from the outside world; `infra/` implements these, tests pass fakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from adaptloop_contracts import RetrainRequested, TrainingEvent
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


class Registry(Protocol):
    """The registry's answers as its contract models (`adaptloop_contracts.registry_answers`); None for a 404."""

    def adapter(self, name: str) -> AdapterRecord | None: ...

    def adapters(self) -> list[AdapterRecord]: ...

    def base_model(self, name: str) -> BaseModelRecord | None: ...

    def version(self, name: str, number: int) -> VersionRecord | None: ...

    def versions(self, name: str) -> list[VersionRecord]: ...

    def upload_artifact(self, data: bytes, filename: str) -> ArtifactStored: ...

    def download_artifact(self, sha256: str) -> bytes: ...

    def register_version(self, name: str, spec: VersionSpec) -> Registration: ...

    def eval_suites(self, name: str) -> list[EvalSuiteRecord]: ...


class ExampleSource(Protocol):
    """Ingest's example export, one contract model (`adaptloop_contracts.ingest_api`) per line."""

    def export(self, adapter: str, *, since: datetime | None, until: datetime | None) -> Iterator[ExportedExample]: ...


class TrainingEvents(Protocol):
    def job_event(self, event: TrainingEvent) -> None: ...

    def retrain_requested(self, request: RetrainRequested) -> None: ...
