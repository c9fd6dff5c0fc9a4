"""Dashboard settings (`ADAPTLOOP_DASHBOARD_*`)."""

from __future__ import annotations

from adaptloop_common.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_DASHBOARD_", extra="ignore")

    port: int = 8005
    registry_url: str = "http://127.0.0.1:8002"
    trainer_url: str = "http://127.0.0.1:8003"
    drift_url: str = "http://127.0.0.1:8004"
    sample_interval_s: float = 5.0
    history_samples: int = 720
    """Drift samples kept in memory per adapter (an hour at the default interval)."""
