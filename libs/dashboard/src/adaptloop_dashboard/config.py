"""Dashboard settings (`ADAPTLOOP_DASHBOARD_*`)."""

from __future__ import annotations

from adaptloop_common.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_DASHBOARD_", extra="ignore")

    port: int = 8005
    registry_url: str = "http://127.0.0.1:8002"
    trainer_url: str = "http://127.0.0.1:8003"
    drift_url: str = "http://127.0.0.1:8004"
    inference_url: str = "http://127.0.0.1:8000"
    max_adapters: int = Field(default=50, ge=1)
    """Adapters shown (by name); each costs three registry calls and one drift call per refresh."""
    jobs_shown: int = Field(default=20, ge=1)
    moves_shown: int = Field(default=15, ge=1)
    """Alias moves (all adapters, newest first) and inference swaps shown."""
    timeout_s: float = 5.0
