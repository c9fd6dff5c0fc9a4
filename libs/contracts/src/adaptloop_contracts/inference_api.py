"""Answer bodies of inference's operator API (`GET /v1/serving-state`); the OpenAI API is in `openai_api`."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts.http_common import Answer


class RouteTarget(Answer):
    version: int | None
    weight: float | None
    unavailable: str | None
    """Why this target cannot serve now (null: it can)."""


class LoadedVersion(Answer):
    version: str
    """`name@n`."""
    lora_id: int
    in_flight: int


class LoadFailureSeen(Answer):
    version: str
    kind: str
    reason: str
    at: float | str | None


class ServingState(Answer):
    """What this replica routes and holds in its engine."""

    replica: str | None
    base_model: str
    ready: bool
    events_subscribed: bool
    last_sync_at: float | str | None
    last_sync_error: str | None
    routes: dict[str, dict[str, RouteTarget]]
    """adapter -> alias -> target."""
    loaded: list[LoadedVersion]
    engine_loras: list[str]
    load_failures: list[LoadFailureSeen]
    logs: dict[str, Any]
    serving_reports: dict[str, Any]
    recent_swaps: list[dict[str, Any]]
