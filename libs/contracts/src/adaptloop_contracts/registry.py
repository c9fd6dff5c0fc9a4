"""`registry.events`: announcements of the registry, published through its outbox."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from adaptloop_contracts.base import Event, Metadata, ShortText

REGISTRY_EVENTS = "registry.events"

RegistryEventType = Literal[
    "adapter.version_registered",
    "adapter.alias_moved",
    "adapter.version_retired",
    "adapter.load_failed",
    "adapter.approval_requested",
    "adapter.version_approved",
    "adapter.version_rejected",
    "adapter.erasure_pending",
    "base_model.registered",
]


class RegistryEvent(Event):
    EVENT_TYPES: ClassVar[tuple[str, ...]] = (
        "adapter.version_registered",
        "adapter.alias_moved",
        "adapter.version_retired",
        "adapter.load_failed",
        "adapter.approval_requested",
        "adapter.version_approved",
        "adapter.version_rejected",
        "adapter.erasure_pending",
        "base_model.registered",
    )

    event_type: RegistryEventType
    version: int | None = Field(default=None, ge=1)
    alias: ShortText | None = None
    previous_version: int | None = Field(default=None, ge=1)
    base_model: ShortText | None = None
    artifact_uri: ShortText | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    actor: ShortText | None = None
    reason: ShortText | None = None
    weight: float | None = Field(default=None, ge=0.0, le=1.0)
    """Traffic share of a canary alias."""
    details: Metadata = Field(default_factory=dict)
