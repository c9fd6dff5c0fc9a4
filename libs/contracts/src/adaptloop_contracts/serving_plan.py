"""`GET /v1/serving-plan` of the registry: what every inference replica serves (read by inference's reconciler)."""

from __future__ import annotations

from pydantic import Field

from adaptloop_contracts.http_common import Answer


class PlanAlias(Answer):
    version: int | None
    weight: float | None = None


class PlanVersion(Answer):
    weights_sha256: str
    config_sha256: str


class PlanAdapter(Answer):
    name: str
    base_model: str | None = None
    aliases: dict[str, PlanAlias | None] = Field(default_factory=dict)
    """alias -> its target."""
    versions: dict[str, PlanVersion | None] = Field(default_factory=dict)
    """Loadable (not retired) versions: `"n"` -> their files."""


class ServingPlan(Answer):
    generated_at: str
    adapters: list[PlanAdapter] = Field(default_factory=list)
