"""Ingest settings, read from `ADAPTLOOP_INGEST_*` environment variables."""

from __future__ import annotations

from adaptloop_common.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

ProducerOption = str | int | float | bool


class Settings(ServiceSettings):
    """Where events go, where examples are kept, and the limits that keep memory bounded."""

    model_config = SettingsConfigDict(env_prefix="ADAPTLOOP_INGEST_", extra="ignore")

    port: int = 8001
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/adaptloop"
    """SQLAlchemy URL of the PostgreSQL database holding the example store."""
    db_schema: str = Field(default="ingest", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    db_pool_size: int = 5
    consumer_group: str = "ingest-examples"
    """Kafka consumer group of the example store's consumer."""
    consumer_enabled: bool = True
    db_outage_wait_s: float = Field(default=120.0, gt=0)
    """How long the consumer holds an event while the database is unreachable before it restarts
    (kept well under the group's `max.poll.interval.ms`); the event is not committed meanwhile."""

    max_batch_items: int = Field(default=1000, ge=1)
    """Most events (or examples) one request may carry; more is a 413."""
    producer_queue_max_messages: int = Field(default=10_000, ge=1)
    """Events handed to the producer and not yet acknowledged, across all requests; beyond: 503."""
    producer_queue_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    publish_timeout_s: float = Field(default=30.0, gt=0)
    """How long a request waits for the broker's acknowledgement before answering 503."""
    retry_after_s: int = Field(default=1, ge=1)
    """`Retry-After` sent with a 503."""
    producer_config: dict[str, ProducerOption] = Field(default_factory=dict)
    """Extra librdkafka options of the event producer as JSON, e.g. `{"linger.ms": 20}`; security: ADAPTLOOP_KAFKA_*."""

    retention_interval_s: float = Field(default=3600.0, gt=0)
    """How often ingest deletes the rows past their TTL (docs/ingest.md#retention)."""
    example_ttl_days: float | None = Field(default=365.0, gt=0)
    """Examples are deleted this long after they were stored; `null` keeps them forever."""
    example_ttl_days_by_adapter: dict[str, float | None] = Field(default_factory=dict)
    """Per-adapter example TTLs as JSON, e.g. `{"support": 90, "legal": null}` (null: forever)."""
    pending_feedback_ttl_days: float = Field(default=7.0, gt=0)
    """Ratings whose log never arrived are dropped this long after they were received."""
    seen_events_ttl_days: float = Field(default=30.0, gt=0)
    """The de-duplication memory of event ids; keep it longer than the topics' retention."""

    export_page_size: int = Field(default=500, ge=1, le=10_000)

    registry_url: str = "http://127.0.0.1:8002"
    """Where an erasure flags the versions trained on erased examples (`POST /v1/erasures` of the registry)."""
    trainer_url: str = "http://127.0.0.1:8003"
    """Where an erasure asks which dataset snapshots held the erased examples."""
    lineage_timeout_s: float = Field(default=120.0, gt=0)
