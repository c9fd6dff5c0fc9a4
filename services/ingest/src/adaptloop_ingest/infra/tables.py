"""The example store's tables (unqualified; the configured schema is applied by the engine)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import UUID

metadata = MetaData()

examples = Table(
    "examples",
    metadata,
    Column("example_id", UUID(as_uuid=True), primary_key=True),
    Column("adapter", Text, nullable=False),
    Column("model", Text),
    Column("adapter_version", Integer),
    Column("source", Text, nullable=False),
    Column("event_id", UUID(as_uuid=True), unique=True),
    Column("prompt", Text, nullable=False),
    Column("completion", Text),
    Column("correction", Text),
    Column("score", Float),
    Column("feedback_event_id", UUID(as_uuid=True)),
    Column("feedback_count", Integer, nullable=False, server_default="0"),
    Column("feedback_at", DateTime(timezone=True)),
    Column("correction_at", DateTime(timezone=True)),
    Column("content_key", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("tenant", Text),  # the log's `tenant`: the subject an erasure names (0002)
    UniqueConstraint("adapter", "content_key", name="examples_adapter_content_key"),
    Index("examples_adapter_time", "adapter", "occurred_at", "example_id"),
)

seen_events = Table(
    "seen_events",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("example_id", UUID(as_uuid=True), ForeignKey("examples.example_id", ondelete="CASCADE")),
    Column("seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

pending_feedback = Table(
    "pending_feedback",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("inference_event_id", UUID(as_uuid=True), nullable=False),
    Column("model", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("correction", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

erasures = Table(
    "erasures",
    metadata,
    Column("erasure_id", UUID(as_uuid=True), primary_key=True),
    Column("subject_kind", Text, nullable=False),
    Column("subject_sha256", Text, nullable=False, index=True),
    Column("examples_removed", Integer, nullable=False),
    Column("feedback_removed", Integer, nullable=False),
    Column("answer", JSON, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
