"""The objects one inference process works with, built by `bootstrap.build_runtime`; the parts that live on
the event loop (swaps, reconciler, log publisher, serving reporter) are built by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from adaptloop_common.privacy import PrivacyPolicy

from adaptloop_inference.adapter_cache import AdapterCache
from adaptloop_inference.config import Settings
from adaptloop_inference.engine_slot import EngineSlot
from adaptloop_inference.infra.registry_client import RegistryClient
from adaptloop_inference.infra.registry_events import RegistryEventFollower


@dataclass
class Readiness:
    """Ready once the engine has started and the serving plan has been applied once."""

    engine_started: bool = False
    first_sync: bool = False
    startup_error: str | None = None
    follower: RegistryEventFollower | None = field(default=None, repr=False)

    @property
    def ready(self) -> bool:
        return self.engine_started and self.first_sync

    @property
    def events_subscribed(self) -> bool:
        return self.follower is not None and self.follower.subscribed


@dataclass
class InferenceRuntime:
    """What `create_app` serves with; the engine, follower and sync loop are started by its lifespan."""

    settings: Settings
    readiness: Readiness
    engine: EngineSlot
    """Filled once the engine has started (in the lifespan)."""
    registry: RegistryClient
    cache: AdapterCache
    privacy: PrivacyPolicy
