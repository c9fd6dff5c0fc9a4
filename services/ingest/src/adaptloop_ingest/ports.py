"""What ingest's handlers need from the outside world; `infra/` implements these, unit tests pass fakes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from adaptloop_contracts import Event

    from adaptloop_ingest.erasure import ErasureMatch, ErasureRequest
    from adaptloop_ingest.examples import ExampleDraft, Rating, StoredExample, StoreOutcome


class ExampleRepository(Protocol):
    """What the handlers need from the store (PostgreSQL in production, a fake in unit tests)."""

    def add_log(self, draft: ExampleDraft) -> StoreOutcome: ...

    def add_rating(self, rating: Rating) -> StoreOutcome: ...

    def add_curated(self, drafts: list[ExampleDraft]) -> list[tuple[uuid.UUID, bool]]: ...

    def export(
        self, adapter: str, *, since: datetime | None, until: datetime | None, limit: int | None, only_targets: bool
    ) -> Iterator[StoredExample]: ...


class Publisher(Protocol):
    async def publish(self, topic_base: str, events: list[Event]) -> None: ...


class ErasureStore(Protocol):
    def match(self, request: ErasureRequest, *, adapters: frozenset[str] | None) -> ErasureMatch: ...

    def erase(self, request: ErasureRequest, match: ErasureMatch, *, answer: dict[str, Any],
              actor: str) -> tuple[int, int]: ...

    def previous(self, subject_sha256: str) -> list[dict[str, Any]]: ...

    def history(self, *, limit: int) -> list[dict[str, Any]]: ...


class Lineage(Protocol):
    """The trainer's and the registry's side of an erasure, asked with the erasing admin's token."""

    def snapshots(self, body: dict[str, Any], *, token: str) -> dict[str, Any]: ...

    def flag_versions(self, body: dict[str, Any], *, token: str) -> dict[str, Any]: ...


class RetentionStore(Protocol):
    def expire_examples(self, older_than: timedelta, *, adapters: list[str] | None, exclude: list[str]) -> int:
        """Delete examples stored before now - `older_than` (of `adapters`, or of all but `exclude`)."""
        ...

    def expire_pending_feedback(self, older_than: timedelta) -> int: ...

    def expire_seen_events(self, older_than: timedelta) -> int: ...
