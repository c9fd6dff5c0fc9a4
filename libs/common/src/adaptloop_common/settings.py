"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from adaptloop_contracts import TopicNames
from adaptloop_kafka.connection import KafkaClientSettings, KafkaConnection
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from adaptloop_common.privacy import PrivacySettings


class ServiceSettings(BaseSettings):
    """Common knobs. Subclasses set `model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_<SVC>_")`."""

    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_client: KafkaClientSettings = Field(default_factory=KafkaClientSettings)
    """Security and other librdkafka options of every Kafka client, from `ADAPTLOOP_KAFKA_*` (shared)."""
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    """Redaction modes, from `ADAPTLOOP_PRIVACY_*` (shared by every service)."""
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

    @property
    def kafka(self) -> KafkaConnection:
        """Where the broker is and how to authenticate: what every producer, consumer and admin client takes."""
        return self.kafka_client.connection(self.kafka_bootstrap)
