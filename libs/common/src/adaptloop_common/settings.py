"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from adaptloop_contracts import TopicNames
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Common knobs. Subclasses set `model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_<SVC>_")`."""

    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    host: str = "127.0.0.1"
    port: int = 0
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
    tokens: str = ""
    """Accepted bearer tokens as `actor:role:sha256(token)` entries separated by commas."""

    @property
    def topic_names(self) -> TopicNames:
        return TopicNames(self.topic_prefix)
