"""The objects one registry process works with, built by `bootstrap` and reached by the HTTP handlers."""

from __future__ import annotations

from dataclasses import dataclass

from adaptloop_common.service_database import ServiceDatabase

from adaptloop_registry.config import Settings
from adaptloop_registry.infra.alias_cache import AliasCache
from adaptloop_registry.infra.artifact_store import ArtifactStore
from adaptloop_registry.infra.pg_async import AsyncPostgres
from adaptloop_registry.relay import OutboxRelay


@dataclass
class RegistryRuntime:
    settings: Settings
    db: ServiceDatabase
    store: ArtifactStore
    relay: OutboxRelay | None = None
    alias_cache: AliasCache | None = None
    pg: AsyncPostgres | None = None
    """PostgreSQL on the event loop, for registrations (None on SQLite)."""

    @property
    def base_url(self) -> str:
        return self.settings.artifact_base_url

    def committed(self) -> None:
        """Called after a transaction that wrote outbox rows, so the relay publishes them promptly."""
        if self.relay is not None:
            self.relay.wake()
