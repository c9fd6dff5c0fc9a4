"""What the domain needs from the outside world; adapters/ implements these, tests pass fakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from adaptloop_contracts import RetrainRequested, TrainingEvent


class Registry(Protocol):
    def adapter(self, name: str) -> dict[str, Any] | None: ...

    def adapters(self) -> list[dict[str, Any]]: ...

    def base_model(self, name: str) -> dict[str, Any] | None: ...

    def version(self, name: str, number: int) -> dict[str, Any] | None: ...

    def versions(self, name: str) -> list[dict[str, Any]]: ...

    def upload_artifact(self, data: bytes, filename: str) -> dict[str, Any]: ...

    def download_artifact(self, sha256: str) -> bytes: ...

    def register_version(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...


class ExampleSource(Protocol):
    def export(self, adapter: str, *, since: datetime | None, until: datetime | None) -> Iterator[dict[str, Any]]: ...


class TrainingEvents(Protocol):
    def job_event(self, event: TrainingEvent) -> None: ...

    def retrain_requested(self, request: RetrainRequested) -> None: ...
